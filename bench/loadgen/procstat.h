/* procstat.h — what the load generator reads about the server process (and
 * itself) from /proc: CPU time and resident memory.
 *
 * Not a sampler: each call reads the files once. A pid of 0 means "no server
 * pid given"; the readers then report failure and the figures are left out.
 */
#ifndef PARLEY_BENCH_PROCSTAT_H
#define PARLEY_BENCH_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

/* CPU seconds the process has used, all threads: the sum of
 * /proc/PID/task/TID/schedstat (nanoseconds; threads that exited during
 * the window are missed), or, without schedstat, utime + stime from
 * /proc/PID/stat (clock ticks, 10 ms). Differences of two readings are
 * what the figures use. Returns 0 and sets *out, or -1 when nothing can be
 * read (process gone, bad pid). */
int lg_proc_cpu(pid_t pid, double *out);

/* Resident set size in KiB (VmRSS in /proc/PID/status). Returns 0, or -1. */
int lg_proc_rss_kib(pid_t pid, uint64_t *out);

/* The one CPU pid may run on (from Cpus_allowed_list in
 * /proc/PID/status; pid 0: this process), or -1 when it may run on several
 * or the file cannot be read. */
int lg_proc_pinned_cpu(pid_t pid);

/* Seconds CPU number cpu has been busy (everything in its /proc/stat line
 * but idle and iowait; steal included), in clock ticks. Returns 0, or -1. */
int lg_cpu_busy(int cpu, double *out);

/* This process's CPU seconds, user + system (getrusage). */
double lg_self_cpu(void);

#endif
