/*
 * clock.c - the clocks and the sleep the core and the transports share:
 * the monotonic clock for waits and timeouts, the wall clock for times
 * that outlive the process (a journal's "written" record).
 */
#include "kombo.h"

#include <errno.h>
#include <time.h>

double kombo_monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double kombo_wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void kombo_sleep(double seconds)
{
    struct timespec ts;
    if (!(seconds > 0))
        return;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
