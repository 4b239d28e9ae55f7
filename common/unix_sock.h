/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_UNIX_SOCK_H
#define UV_UNIX_SOCK_H

#include <stddef.h>

/*
 * Makes a listening unix stream socket (non-blocking, close-on-exec) at
 * path. A socket file left there by a dead server is removed first; one that
 * somebody still serves, or a file that is no socket, is left alone and
 * refused. Returns the fd, or -1 with the reason in err.
 */
int unix_listen(const char *path, int backlog, char *err, size_t errlen);
/* The same for another socket type (SOCK_SEQPACKET for control sockets). */
int unix_listen_type(const char *path, int type, int backlog, char *err, size_t errlen);

#endif
