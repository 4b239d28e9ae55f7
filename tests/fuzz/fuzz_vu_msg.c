// SPDX-License-Identifier: GPL-2.0
/*
 * The vhost-user message parser, and the back end that acts on what it
 * accepts. The first byte picks the mode:
 *   bit 7 clear: bits 0-3 give a number of descriptors (eventfds) to hand to
 *     vu_msg_parse() with the rest as one message; every descriptor must be
 *     closed or handed back, whatever the verdict;
 *   bit 7 set: the rest is a byte stream a front end sends to a vu_back on a
 *     socketpair, served by its event loop until it is drained or dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "vhost_user.h"
#include "vu_back.h"

static void parse_one(const uint8_t *data, size_t size, unsigned nfds)
{
	struct vhost_user_msg m;
	char err[160];
	int fds[16];
	int ret;

	for (unsigned i = 0; i < nfds; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	ret = vu_msg_parse(data, size, fds, nfds, &m, err, sizeof(err));
	if (ret == 0) {
		if (m.nfds != nfds)
			abort();
		(void)vu_request_name(m.hdr.request);
		vu_msg_close_fds(&m);
	} else if (!err[0]) {
		abort(); /* every refusal says why */
	}
	for (unsigned i = 0; i < nfds; i++)
		if (fds[i] >= 0 && fcntl(fds[i], F_GETFD) != -1)
			abort(); /* leaked */
}

static uint64_t dev_features(void *dev)
{
	(void)dev;
	return 0;
}

static uint16_t dev_num_queues(void *dev)
{
	(void)dev;
	return 2;
}

static int dev_get_config(void *dev, uint32_t off, void *buf, uint32_t len)
{
	(void)dev;
	(void)off;
	memset(buf, 0x5a, len);
	return 0;
}

static void dev_kick(void *dev, struct vu_back *b, unsigned idx, struct virtq *vq)
{
	static struct virtq_elem e;
	int r;

	(void)dev;
	(void)vq;
	while ((r = vu_back_pop(b, idx, &e)) == 1)
		vu_back_complete(b, idx, e.head, 0);
	if (r < 0)
		vu_back_needs_reset(b, idx);
}

static void dev_disconnected(void *dev, struct vu_back *b)
{
	(void)b;
	*(int *)dev = 1;
}

static const struct vu_dev_ops dev_ops = {
	.features = dev_features,
	.num_queues = dev_num_queues,
	.get_config = dev_get_config,
	.queue_kick = dev_kick,
	.disconnected = dev_disconnected,
};

static void serve_stream(const uint8_t *data, size_t size)
{
	struct event_base *base = event_base_new();
	struct vu_back *b;
	int sv[2], gone = 0;
	char sink[4096];

	if (!base || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	b = vu_back_new(base, sv[1], &dev_ops, &gone, "fuzz");
	if (!b)
		abort();
	/* Small inputs fit the socket buffer; the rest is cut. */
	if (size > 64 * 1024)
		size = 64 * 1024;
	if (size && write(sv[0], data, size) < 0)
		abort();
	shutdown(sv[0], SHUT_WR);
	for (int i = 0; i < 200 && !gone; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		/* Replies must not fill the socket and stall the back end. */
		while (recv(sv[0], sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
	}
	if (!gone)
		vu_back_free(b);
	close(sv[0]);
	event_base_free(base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;

	if (!quiet) {
		log_init("fuzz", UV_LOG_ERR - 1); /* nothing: the fuzzer is loud enough */
		quiet = 1;
	}
	if (!size)
		return 0;
	if (data[0] & 0x80)
		serve_stream(data + 1, size - 1);
	else
		parse_one(data + 1, size - 1, data[0] & 0x0f);
	return 0;
}
