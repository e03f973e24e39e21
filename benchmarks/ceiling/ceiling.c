/*
 * The ceiling for the pyrpc protocol on this machine: a single-threaded epoll server that
 * answers every newline-terminated request (or a last unterminated one at EOF) with a
 * fixed RPC-RES line. No parsing, no Python: what the wire and the kernel cost.
 *
 *   cc -O2 -o ceiling ceiling.c && ./ceiling PORT
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

static const char RESPONSE[] = "{\"header\":\"RPC-RES\",\"value\":{\"return-values\":[5]}}\n";

typedef struct { int fd; int partial; } conn_t;

static void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static int write_all(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t n = write(fd, data, length);
        if (n < 0) { if (errno == EAGAIN || errno == EINTR) continue; return -1; }
        data += n; length -= (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 9000;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0) { perror("bind"); return 1; }
    listen(listener, 512);
    set_nonblocking(listener);
    int epoll = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
    struct epoll_event events[256];
    char buffer[1 << 16];
    char *out = malloc(sizeof RESPONSE * 4096);
    for (;;) {
        int ready = epoll_wait(epoll, events, 256, -1);
        for (int i = 0; i < ready; i++) {
            conn_t *conn = events[i].data.ptr;
            if (conn == NULL) {
                int fd;
                while ((fd = accept(listener, NULL, NULL)) >= 0) {
                    set_nonblocking(fd);
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conn_t *c = calloc(1, sizeof *c);
                    c->fd = fd;
                    struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &e);
                }
                continue;
            }
            for (;;) {
                ssize_t n = read(conn->fd, buffer, sizeof buffer);
                if (n > 0) {
                    size_t answers = 0;
                    for (ssize_t k = 0; k < n; k++) {
                        if (buffer[k] == '\n') { answers++; conn->partial = 0; } else { conn->partial = 1; }
                    }
                    size_t length = 0;
                    for (size_t a = 0; a < answers && a < 4096; a++) {
                        memcpy(out + length, RESPONSE, sizeof RESPONSE - 1);
                        length += sizeof RESPONSE - 1;
                    }
                    if (length && write_all(conn->fd, out, length) < 0) { n = 0; }
                    if (n > 0) continue;
                }
                if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
                /* EOF (half-close) or error: answer an unterminated last request, then close. */
                if (n == 0 && conn->partial) write_all(conn->fd, RESPONSE, sizeof RESPONSE - 1);
                epoll_ctl(epoll, EPOLL_CTL_DEL, conn->fd, NULL);
                close(conn->fd);
                free(conn);
                break;
            }
        }
    }
}
