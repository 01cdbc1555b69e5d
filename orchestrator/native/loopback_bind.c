/*
 * LD_PRELOAD shim for TFF's C++ worker_binary: it binds "[::]:PORT" (every interface, no
 * authentication) and has no flag to change that. This shim rewrites a bind() to the wildcard
 * address into a bind to WAKEWORD_BIND_ADDRESS (default 127.0.0.1), so the worker accepts
 * connections only from this machine unless told otherwise. Other binds pass through unchanged.
 *
 * Built by `make setup` (scripts/build-native.sh); loaded by orchestrator/worker.py.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

static const char *wanted(void) {
    const char *address = getenv("WAKEWORD_BIND_ADDRESS");
    return (address && *address) ? address : "127.0.0.1";
}

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static bind_fn real_bind = NULL;
    if (!real_bind) {
        real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
        if (!real_bind) {
            errno = ENOSYS;
            return -1;
        }
    }
    if (addr && addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 a6;
        memcpy(&a6, addr, sizeof a6);
        if (IN6_IS_ADDR_UNSPECIFIED(&a6.sin6_addr)) {
            struct in_addr v4;
            if (inet_pton(AF_INET6, wanted(), &a6.sin6_addr) != 1) {
                if (inet_pton(AF_INET, wanted(), &v4) != 1) {
                    errno = EADDRNOTAVAIL;
                    return -1;
                }
                /* IPv4 address on a dual-stack socket: the v4-mapped form ::ffff:a.b.c.d */
                memset(&a6.sin6_addr, 0, sizeof a6.sin6_addr);
                a6.sin6_addr.s6_addr[10] = 0xff;
                a6.sin6_addr.s6_addr[11] = 0xff;
                memcpy(&a6.sin6_addr.s6_addr[12], &v4, 4);
            }
            return real_bind(fd, (const struct sockaddr *)&a6, sizeof a6);
        }
    } else if (addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        struct sockaddr_in a4;
        memcpy(&a4, addr, sizeof a4);
        if (a4.sin_addr.s_addr == htonl(INADDR_ANY)) {
            if (inet_pton(AF_INET, wanted(), &a4.sin_addr) != 1) {
                errno = EADDRNOTAVAIL;
                return -1;
            }
            return real_bind(fd, (const struct sockaddr *)&a4, sizeof a4);
        }
    }
    return real_bind(fd, addr, len);
}
