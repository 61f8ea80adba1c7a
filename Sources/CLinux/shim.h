/* Linux system calls that Swift cannot call directly (syscall(2) is variadic). */
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

/* openat2(2): returns a file descriptor, or -1 with errno set (ENOSYS on kernels before 5.6). */
static inline int sitevault_openat2(int dirfd, const char *path, unsigned long long flags,
                                    unsigned long long resolve) {
#ifdef SYS_openat2
    struct open_how how = { .flags = flags, .mode = 0, .resolve = resolve };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
#else
    errno = ENOSYS;
    return -1;
#endif
}
