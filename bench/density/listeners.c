/*
 * The "apps" of bench/density/observer-alone.ts: one process that listens on PORT in each network
 * namespace named on the command line (dual-stack [::]:PORT, as a Node app does), accepts whatever
 * connects, and closes it once the peer has (as an app does when a probe connects and leaves: the
 * probe's side closes first and its TIME_WAIT stays on the node) or once the peer sends anything (a
 * goodbye: the app closes first, as a WebSocket server does after the client's close frame). One process for all of them,
 * so 200 namespaces cost kilobytes, not 200 runtimes: the benchmark measures the observer, not the apps.
 * Needs CAP_SYS_ADMIN (setns). Prints "ready" once every socket listens.
 *   listeners PORT /var/run/netns/A [/var/run/netns/B …]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: listeners PORT NETNS_PATH...\n");
    return 2;
  }
  int port = atoi(argv[1]);
  int ep = epoll_create1(0);
  for (int i = 2; i < argc; i++) {
    int nsfd = open(argv[i], O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) {
      perror(argv[i]);
      return 1;
    }
    close(nsfd);
    int s = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int off = 0, on = 1;
    setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in6 addr;
    memset(&addr, 0, sizeof addr);
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons((unsigned short)port);
    addr.sin6_addr = in6addr_any;
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s, 128) != 0) {
      perror("listen");
      return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = s};
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
  }
  printf("ready\n");
  fflush(stdout);
  struct epoll_event events[64];
  char buf[4096];
  for (;;) {
    int n = epoll_wait(ep, events, 64, -1);
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd; /* a listening socket (added with data.fd alone, upper bits zero) */
      if (events[i].data.u64 >> 32) { /* a connection (tagged): read until the peer closes, then close */
        int c = (int)(events[i].data.u64 & 0xffffffff);
        ssize_t r = read(c, buf, sizeof buf);
        /* The peer closed (a probe leaving): close too. It sent something (a client saying goodbye, as a
         * WebSocket's close frame does): close first, as a WebSocket server does. */
        if (r >= 0 || errno != EAGAIN) close(c);
        continue;
      }
      int c;
      while ((c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
        struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP};
        cev.data.u64 = ((unsigned long long)1 << 32) | (unsigned int)c;
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
      }
    }
  }
}
