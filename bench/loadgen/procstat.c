/* procstat.c — CPU and RSS from /proc (see procstat.h). */
#include "procstat.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static ssize_t read_file(const char *path, char *out, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    if (n < 0)
        return -1;
    out[n] = '\0';
    return n;
}

/* utime + stime from /proc/PID/stat: every thread, living or exited, but
 * in clock ticks (10 ms). */
static int stat_cpu(pid_t pid, double *out)
{
    char path[64], text[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_file(path, text, sizeof text) <= 0)
        return -1;
    /* The command name (field 2) may hold spaces and parentheses: fields are
     * counted from the last ')'. utime and stime are fields 14 and 15. */
    char *p = strrchr(text, ')');
    if (!p)
        return -1;
    p++;
    unsigned long long ticks[2] = {0, 0};
    for (int field = 3; field <= 15; field++) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            return -1;
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (field >= 14)
            ticks[field - 14] = v;
        p = end;
        while (*p && *p != ' ')
            p++;
    }
    long hz = sysconf(_SC_CLK_TCK);
    *out = (double)(ticks[0] + ticks[1]) / (double)(hz > 0 ? hz : 100);
    return 0;
}

/* Sum of the first field of /proc/PID/task/TID/schedstat: nanoseconds on
 * CPU of every living thread. */
static int schedstat_cpu(pid_t pid, double *out)
{
    char path[64], text[256];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    unsigned long long ns = 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char tpath[128];
        snprintf(tpath, sizeof tpath, "/proc/%d/task/%.20s/schedstat", (int)pid, e->d_name);
        if (read_file(tpath, text, sizeof text) <= 0)
            continue;
        ns += strtoull(text, NULL, 10);
        n++;
    }
    closedir(d);
    if (n == 0)
        return -1;
    *out = (double)ns / 1e9;
    return 0;
}

int lg_proc_cpu(pid_t pid, double *out)
{
    if (pid <= 0)
        return -1;
    /* Short windows (connect, storm) need better than 10 ms: schedstat when
     * the kernel has it. */
    if (schedstat_cpu(pid, out) == 0)
        return 0;
    return stat_cpu(pid, out);
}

int lg_proc_rss_kib(pid_t pid, uint64_t *out)
{
    char path[64], text[8192];
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (read_file(path, text, sizeof text) <= 0)
        return -1;
    const char *p = strstr(text, "\nVmRSS:");
    if (!p)
        return -1;
    *out = strtoull(p + 7, NULL, 10);
    return 0;
}

double lg_self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

int lg_proc_pinned_cpu(pid_t pid)
{
    char path[64], text[8192];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/self/status");
    if (read_file(path, text, sizeof text) <= 0)
        return -1;
    const char *p = strstr(text, "\nCpus_allowed_list:");
    if (!p)
        return -1;
    p += 19;
    while (*p == ' ' || *p == '\t')
        p++;
    char *end;
    long cpu = strtol(p, &end, 10);
    if (end == p || (*end != '\n' && *end != '\0'))
        return -1; /* a list or a range: not pinned to one */
    return (int)cpu;
}

int lg_cpu_busy(int cpu, double *out)
{
    static char text[65536];
    char key[32];
    if (cpu < 0 || read_file("/proc/stat", text, sizeof text) <= 0)
        return -1;
    int k = snprintf(key, sizeof key, "\ncpu%d ", cpu);
    const char *p = strstr(text, key);
    if (!p)
        return -1;
    p += k;
    unsigned long long v[8] = {0};
    for (int i = 0; i < 8; i++) {
        char *end;
        v[i] = strtoull(p, &end, 10);
        if (end == p)
            return -1;
        p = end;
    }
    /* user nice system idle iowait irq softirq steal */
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    long hz = sysconf(_SC_CLK_TCK);
    *out = (double)busy / (double)(hz > 0 ? hz : 100);
    return 0;
}
