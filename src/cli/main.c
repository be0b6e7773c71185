/* main.c - entry point of the `dynrt` command: dispatches to sub-commands. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "dynrt/common.h"

typedef struct command {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *help;
} command;

static const command commands[] = {
#define X(name, fn, help) {#name, fn, help},
#include "cli/commands.def"
#undef X
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

int dynrt_cli_fail(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "dynrt %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return 1;
}

int dynrt_cmd_help(int argc, char **argv) {
  if (argc > 1) {
    for (size_t i = 0; i < NCOMMANDS; i++)
      if (!strcmp(commands[i].name, argv[1])) {
        char *sub[] = {argv[1], "--help", NULL};
        return commands[i].fn(2, sub);
      }
    return dynrt_cli_fail("help", "unknown command '%s'", argv[1]);
  }
  printf("dynrt %s - dynamic DNN runtime with runtime management\n\n", dynrt_version());
  printf("usage: dynrt COMMAND [ARGS...]   (dynrt help COMMAND for details)\n\ncommands:\n");
  for (size_t i = 0; i < NCOMMANDS; i++) printf("  %-12s %s\n", commands[i].name, commands[i].help);
  return 0;
}

int dynrt_cmd_version(int argc, char **argv) {
  (void)argc;
  (void)argv;
  char buf[128];
  printf("dynrt %s\n", dynrt_version());
  printf("cpu features: %s\n", dynrt_cpu_features_str(dynrt_cpu_features(), buf, sizeof buf));
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    dynrt_cmd_help(1, argv);
    return 1;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) return dynrt_cmd_version(1, argv);
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return dynrt_cmd_help(1, argv);
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (!strcmp(commands[i].name, argv[1])) return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "dynrt: unknown command '%s' (see 'dynrt help')\n", argv[1]);
  return 1;
}
