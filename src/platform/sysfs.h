/*
 * sysfs.h - small, strict readers and writers for sysfs/procfs files under a root, and the
 * parsers for their value formats (CPU lists, frequency lists, integers, decimal text).
 * Nothing here knows what a file means; it must never abort on file content.
 *
 * Every message names the file and, for bad content, the content itself.
 *
 * Writes and write probes go through one function that tests can observe and steer with
 * dynrt__sysfs_set_hook (a fake kernel: rejecting, rounding, logging the order of writes).
 */
#ifndef DYNRT_SYSFS_H
#define DYNRT_SYSFS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Longest path the platform layer builds (root included). */
#define DYNRT_SYSFS_PATH_MAX 512
/* Largest file read in one piece (cpufreq lists, /proc/stat lines are read elsewhere). */
#define DYNRT_SYSFS_VALUE_MAX 4096

/* Builds root + "/" + printf(fmt, ...) into buf, with one '/' between them. Returns 0, or
 * -1 when it does not fit (buf then holds an empty string). root "" or "/" means none. */
int dynrt__sysfs_path(char *buf, size_t size, const char *root, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* 1 when the path exists (any type), 0 otherwise. */
int dynrt__sysfs_exists(const char *path);
/* 1 when the path is a directory. */
int dynrt__sysfs_is_dir(const char *path);

/* Reads a whole small file into buf (NUL-terminated, trailing whitespace removed; the
 * value ends at the first NUL byte, as device-tree strings do).
 * DYNRT_ERR_NOT_FOUND when missing, DYNRT_ERR_PERMISSION when unreadable, DYNRT_ERR_IO
 * otherwise (a directory, a read error), DYNRT_ERR_FORMAT when longer than size - 1. */
dynrt_status dynrt__sysfs_read(const char *path, char *buf, size_t size, dynrt_err *err);

/* Parsers of whole strings (surrounding whitespace allowed). Return 0 or -1; a decimal
 * too large for a double (infinite) is -1. */
int dynrt__parse_u64(const char *s, uint64_t *out);
int dynrt__parse_i64(const char *s, int64_t *out);
int dynrt__parse_double(const char *s, double *out);
/* "0-3,5" (kernel cpulist) or "0 1 2 3" (affected_cpus); empty string = empty mask.
 * CPUs >= 64 are an error (-1). */
int dynrt__parse_cpulist(const char *s, uint64_t *mask);
/* Whitespace-separated unsigned numbers, at most max; returns the count or -1 (garbage,
 * too many, value > UINT32_MAX after dividing by div). */
int dynrt__parse_u32_list(const char *s, uint32_t *vals, int max, uint32_t div);

/* Readers that parse: the error names the file and quotes the content. */
dynrt_status dynrt__sysfs_read_u64(const char *path, uint64_t *out, dynrt_err *err);
dynrt_status dynrt__sysfs_read_i64(const char *path, int64_t *out, dynrt_err *err);
dynrt_status dynrt__sysfs_read_double(const char *path, double *out, dynrt_err *err);
dynrt_status dynrt__sysfs_read_cpulist(const char *path, uint64_t *mask, dynrt_err *err);

/* Maps an errno of a failed write to a status: EACCES/EPERM/EROFS -> PERMISSION, EBUSY ->
 * BUSY, EINVAL/ERANGE -> INVALID_ARG, ENOENT/ENOTDIR -> NOT_FOUND, others -> IO. */
dynrt_status dynrt__sysfs_errno_status(int e);

/* Writes value (no newline added) to an existing file. On failure the message reads
 * "write 'VALUE' to PATH: REASON". */
dynrt_status dynrt__sysfs_write(const char *path, const char *value, dynrt_err *err);
/* Opens the file for writing and closes it without writing: 0 when writable, else the errno
 * (EACCES for a read-only sysfs attribute, even for root). No side effect on sysfs. */
int dynrt__sysfs_probe_write(const char *path);

/* Test hook, process-wide. op is one of the two below; value is NULL for a probe.
 * The hook returns -1 to let the real operation happen, 0 when it performed the operation
 * itself (success), or a positive errno to make the operation fail with it. */
enum { DYNRT__SYSFS_WRITE = 0, DYNRT__SYSFS_PROBE = 1 };
typedef int (*dynrt__sysfs_hook_fn)(void *user, int op, const char *path, const char *value);
void dynrt__sysfs_set_hook(dynrt__sysfs_hook_fn fn, void *user);

/* Names of the entries of dir that start with prefix, sorted with numbers in natural order
 * ("policy2" before "policy10"). names: max entries of DYNRT_SYSFS_NAME_MAX bytes. Returns the
 * count (entries past max are dropped with a warning), or -1 when dir cannot be opened. */
#define DYNRT_SYSFS_NAME_MAX 64
int dynrt__sysfs_list(const char *dir, const char *prefix, char (*names)[DYNRT_SYSFS_NAME_MAX],
                      int max);

/* Copies src into dst (size bytes), truncating; always NUL-terminated. Returns dst. */
char *dynrt__sysfs_copy(char *dst, size_t size, const char *src);

/* Formats s for a message: printable ASCII kept, the rest as '?', at most 40 characters
 * with "..." after. size must be at least 48. Returns out. */
const char *dynrt__sysfs_quote(const char *s, char *out, size_t size);

#endif /* DYNRT_SYSFS_H */
