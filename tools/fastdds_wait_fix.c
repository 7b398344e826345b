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
 * deadline. Every other call goes to glibc unchanged.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <time.h>

int pthread_cond_timedwait(pthread_cond_t *cond, pthread_mutex_t *mutex, const struct timespec *abstime)
{
    static int (*glibc_timedwait)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
    if (abstime != NULL && abstime->tv_sec < 0) {
        return pthread_cond_wait(cond, mutex);
    }
    if (glibc_timedwait == NULL) {
        glibc_timedwait = (int (*)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *))dlsym(
            RTLD_NEXT, "pthread_cond_timedwait");
    }
    return glibc_timedwait(cond, mutex, abstime);
}
