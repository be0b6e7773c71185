/* cli.h - the `dynrt` command: sub-commands, one per file, declared in commands.def. */
#ifndef DYNRT_CLI_H
#define DYNRT_CLI_H

#define X(name, fn, help) int fn(int argc, char **argv);
#include "cli/commands.def"
#undef X

/* Prints "dynrt NAME: message" to stderr and returns 1 (the exit code for bad usage). */
int dynrt_cli_fail(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
