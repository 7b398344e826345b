/*
 * Preloaded into every process of this workspace (env.sh sets LD_PRELOAD; tools/setup.sh builds it).
 *
 * The PyPI build of Fast DDS (ros-fastdds 3.2.3, libfastdds.so.3.2) was compiled without
 * pthread_cond_clockwait, so libstdc++'s condition_variable::wait_until(steady_clock deadline) converts
 * the deadline to the system clock. For "wait forever" (time_point::max(), the default timeout of
 * DomainParticipant::set_listener) that sum overflows into a deadline before 1970. glibc answers such a
 * deadline at once (EINVAL: negative nanoseconds) without ever releasing the mutex, and libstdc++, seeing
 * that the deadline has not passed, asks again: a busy loop that holds the mutex for good.
 *
 * rmw_fastrtps calls set_listener(nullptr) when a process destroys its last node. If a discovery callback
 * is running in a Fast DDS thread at that moment (likely when a whole graph stops at once: every process
 * removes its endpoints together), the callback needs that mutex to finish and the teardown waits for the
 * callback: the process hangs in rcl_node_fini until it is killed (gdb: the main thread looping in
 * DomainParticipant::set_listener, a dds.udp thread blocked in
 * DomainParticipantImpl::MyRTPSParticipantListener::on_reader_discovery).
 *
 * A deadline before the epoch can only come from such an overflow, so it is taken for what it meant: no
 * deadline. Every other call goes to glibc unchanged. libfastdds also imports pthread_mutex_timedlock and
 * sem_timedwait, which get the same overflowed deadlines (std::timed_mutex::try_lock_until(max()), the
 * shared-memory transport's semaphores); glibc refuses those at once too, so "wait forever" became "try once".
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

/* A deadline before 1970 (or with nanoseconds out of range) can only come from such an overflow. */
static int overflowed(const struct timespec *abstime)
{
    return abstime != NULL && (abstime->tv_sec < 0 || abstime->tv_nsec < 0 || abstime->tv_nsec >= 1000000000L);
}

int pthread_cond_timedwait(pthread_cond_t *cond, pthread_mutex_t *mutex, const struct timespec *abstime)
{
    static int (*glibc)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
    if (overflowed(abstime)) {
        return pthread_cond_wait(cond, mutex);
    }
    if (glibc == NULL) {
        glibc = (int (*)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *))dlsym(
            RTLD_NEXT, "pthread_cond_timedwait");
    }
    return glibc(cond, mutex, abstime);
}

/* The same conversion in std::timed_mutex::try_lock_until and in Fast DDS's shared-memory semaphores. */
int pthread_mutex_timedlock(pthread_mutex_t *mutex, const struct timespec *abstime)
{
    static int (*glibc)(pthread_mutex_t *, const struct timespec *);
    if (overflowed(abstime)) {
        return pthread_mutex_lock(mutex);
    }
    if (glibc == NULL) {
        glibc = (int (*)(pthread_mutex_t *, const struct timespec *))dlsym(RTLD_NEXT, "pthread_mutex_timedlock");
    }
    return glibc(mutex, abstime);
}

int sem_timedwait(sem_t *sem, const struct timespec *abstime)
{
    static int (*glibc)(sem_t *, const struct timespec *);
    if (overflowed(abstime)) {
        return sem_wait(sem);
    }
    if (glibc == NULL) {
        glibc = (int (*)(sem_t *, const struct timespec *))dlsym(RTLD_NEXT, "sem_timedwait");
    }
    return glibc(sem, abstime);
}
