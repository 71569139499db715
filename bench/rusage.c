/*
 * rusage.c - run one command and write what it cost: the getrusage figures
 * of that child process alone (wait4), in microseconds rather than the
 * hundredths of a second that /usr/bin/time prints (the raw multi loop uses
 * about 0.1 s of CPU for a whole run, so 10 ms steps would be 10 %).
 *
 *   rusage OUT_FILE COMMAND [ARG...]
 *
 * The command's stdin, stdout and stderr are left alone.  OUT_FILE receives
 * one line: "<wall s> <user s> <sys s> <max RSS KiB> <exit status>", wall
 * from CLOCK_MONOTONIC around fork and wait4; the exit status is 128+signal
 * when the child was killed.  rusage exits with the child's status.  It
 * does not bound the run itself: bench/bulk starts it under timeout(1),
 * which signals the whole process group.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double secs(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    struct rusage ru;
    double t0, t1;
    int status = 0, code;
    pid_t pid;
    FILE *out;

    if (argc < 3) {
        fprintf(stderr, "usage: rusage OUT_FILE COMMAND [ARG...]\n");
        return 2;
    }
    t0 = now();
    pid = fork();
    if (pid < 0) {
        perror("rusage: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "rusage: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("rusage: wait4");
            return 2;
        }
    }
    t1 = now();
    code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    out = fopen(argv[1], "w");
    if (out == NULL) {
        perror("rusage: cannot write the result");
        return 2;
    }
    /* ru_maxrss is in KiB on Linux */
    fprintf(out, "%.6f %.6f %.6f %ld %d\n", t1 - t0, secs(ru.ru_utime), secs(ru.ru_stime), ru.ru_maxrss, code);
    if (fclose(out) != 0) {
        perror("rusage: cannot write the result");
        return 2;
    }
    return code;
}
