// SPDX-License-Identifier: GPL-2.0
#include <check.h>

#include "uvcheck.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vhost_user.h"

/* The header at 4 bytes past an 8-byte boundary, so that the payload is aligned. */
static uint8_t raw[1040] __attribute__((aligned(8)));
#define buf (raw + 4)
static char err[160];

static size_t mk(uint32_t req, uint32_t flags, uint32_t size, const void *payload)
{
	struct vhost_user_hdr h = {.request = req, .flags = flags, .size = size};

	memcpy(buf, &h, sizeof(h));
	if (payload)
		memcpy(buf + sizeof(h), payload, size);
	else
		memset(buf + sizeof(h), 0, size);
	return sizeof(h) + size;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static void mk_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC);
		ck_assert_int_ge(fds[i], 0);
	}
}

/* Parses len bytes of buf with n fresh descriptors; checks all are gone on failure. */
static int parse_n(size_t len, unsigned n, struct vhost_user_msg *m)
{
	int fds[12];
	int ret;

	mk_fds(fds, n);
	err[0] = 0;
	ret = vu_msg_parse(buf, len, fds, n, m, err, sizeof(err));
	if (ret) {
		ck_assert_msg(err[0], "no error text");
		for (unsigned i = 0; i < n; i++)
			ck_assert_msg(!fd_open(fds[i]), "fd %u leaked", i);
	} else {
		ck_assert_uint_eq(m->nfds, n);
		for (unsigned i = 0; i < n; i++)
			ck_assert_int_eq(m->fds[i], fds[i]);
		vu_msg_close_fds(m);
		for (unsigned i = 0; i < n; i++)
			ck_assert(!fd_open(fds[i]));
	}
	return ret;
}

START_TEST(test_short_header)
{
	struct vhost_user_msg m;

	mk(VHOST_USER_GET_FEATURES, 1, 0, NULL);
	ck_assert_int_eq(parse_n(0, 0, &m), -EINVAL);
	ck_assert_int_eq(parse_n(11, 1, &m), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "short header"));
	ck_assert_int_eq(parse_n(12, 0, &m), 0);
}
END_TEST

START_TEST(test_short_and_long_payload)
{
	struct vhost_user_msg m;
	uint64_t v = 1;
	size_t len = mk(VHOST_USER_SET_FEATURES, 1, 8, &v);

	ck_assert_int_eq(parse_n(len - 4, 0, &m), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "announced"));
	ck_assert_int_eq(parse_n(len + 4, 0, &m), -EINVAL);
	/* A u64 request with a 4-byte payload. */
	len = mk(VHOST_USER_SET_FEATURES, 1, 4, &v);
	ck_assert_int_eq(parse_n(len, 1, &m), -EINVAL);
	len = mk(VHOST_USER_SET_FEATURES, 1, 8, &v);
	ck_assert_int_eq(parse_n(len, 0, &m), 0);
	ck_assert_uint_eq(m.payload.u64, 1);
	/* No payload expected, one given. */
	len = mk(VHOST_USER_GET_FEATURES, 1, 8, &v);
	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
}
END_TEST

START_TEST(test_unknown)
{
	struct vhost_user_msg m;
	uint64_t v = 0;
	size_t len = mk(99, 1, 8, &v);

	ck_assert_int_eq(parse_n(len, 2, &m), -ENOSYS);
	ck_assert_uint_eq(m.hdr.request, 99);
	ck_assert_ptr_nonnull(strstr(err, "unknown request 99"));
	/* Known to the protocol, not spoken here. */
	len = mk(VHOST_USER_SET_LOG_BASE, 1, 16, NULL);
	ck_assert_int_eq(parse_n(len, 1, &m), -ENOSYS);
	ck_assert_ptr_nonnull(strstr(err, "SET_LOG_BASE"));
	len = mk(VHOST_USER_NONE, 1, 0, NULL);
	ck_assert_int_eq(parse_n(len, 0, &m), -ENOSYS);
}
END_TEST

START_TEST(test_oversized)
{
	struct vhost_user_msg m;

	mk(VHOST_USER_SET_FEATURES, 1, 0, NULL);
	((struct vhost_user_hdr *)buf)->size = 0x10000;
	ck_assert_int_eq(parse_n(12 + 0x100, 1, &m), -EMSGSIZE);
	((struct vhost_user_hdr *)buf)->size = 0xffffffff;
	ck_assert_int_eq(parse_n(12, 0, &m), -EMSGSIZE);
	((struct vhost_user_hdr *)buf)->size = VHOST_USER_MAX_PAYLOAD + 1;
	ck_assert_int_eq(parse_n(12 + VHOST_USER_MAX_PAYLOAD + 1, 0, &m), -EMSGSIZE);
}
END_TEST

START_TEST(test_bad_version)
{
	struct vhost_user_msg m;
	size_t len;

	len = mk(VHOST_USER_GET_FEATURES, 0, 0, NULL);
	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "version"));
	len = mk(VHOST_USER_GET_FEATURES, 2, 0, NULL);
	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	len = mk(VHOST_USER_GET_FEATURES, 3 | VHOST_USER_NEED_REPLY, 0, NULL);
	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	len = mk(VHOST_USER_GET_FEATURES, 1 | VHOST_USER_NEED_REPLY, 0, NULL);
	ck_assert_int_eq(parse_n(len, 0, &m), 0);
}
END_TEST

START_TEST(test_fd_counts)
{
	struct vhost_user_msg m;
	uint64_t v = 0;
	size_t len = mk(VHOST_USER_SET_VRING_KICK, 1, 8, &v);

	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "file descriptors"));
	ck_assert_int_eq(parse_n(len, 2, &m), -EINVAL);
	ck_assert_int_eq(parse_n(len, 1, &m), 0);
	v = VHOST_USER_VRING_NOFD | 1;
	len = mk(VHOST_USER_SET_VRING_CALL, 1, 8, &v);
	ck_assert_int_eq(parse_n(len, 1, &m), -EINVAL);
	ck_assert_int_eq(parse_n(len, 0, &m), 0);
	len = mk(VHOST_USER_SET_VRING_ERR, 1, 8, &v);
	ck_assert_int_eq(parse_n(len, 0, &m), 0);
	len = mk(VHOST_USER_GET_FEATURES, 1, 0, NULL);
	ck_assert_int_eq(parse_n(len, 1, &m), -EINVAL);
	len = mk(VHOST_USER_SET_BACKEND_REQ_FD, 1, 0, NULL);
	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	ck_assert_int_eq(parse_n(len, 1, &m), 0);
	/* More than a message may carry. */
	ck_assert_int_eq(parse_n(len, 9, &m), -EINVAL);
}
END_TEST

static size_t mk_mem(unsigned n, uint32_t nregions)
{
	struct vhost_user_memory mem = {.nregions = nregions};

	for (unsigned i = 0; i < n && i < VHOST_USER_MAX_REGIONS; i++) {
		mem.regions[i].gpa = (uint64_t)i << 30;
		mem.regions[i].size = 1 << 20;
		mem.regions[i].uaddr = 0x7f0000000000ull + ((uint64_t)i << 30);
	}
	return mk(VHOST_USER_SET_MEM_TABLE, 1, 8 + 32 * n, &mem);
}

START_TEST(test_mem_table)
{
	struct vhost_user_msg m;
	struct vhost_user_memory *mem = (void *)(buf + 12);
	size_t len;

	len = mk_mem(2, 2);
	ck_assert_int_eq(parse_n(len, 2, &m), 0);
	ck_assert_int_eq(parse_n(len, 1, &m), -EINVAL);
	ck_assert_int_eq(parse_n(len, 3, &m), -EINVAL);
	len = mk_mem(0, 0);
	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "0 memory regions"));
	len = mk_mem(8, 9);
	ck_assert_int_eq(parse_n(len, 8, &m), -EINVAL);
	/* More regions announced than the payload holds. */
	len = mk_mem(2, 3);
	ck_assert_int_eq(parse_n(len, 3, &m), -EINVAL);
	/* Overlap in guest-physical, then in user addresses. */
	len = mk_mem(2, 2);
	mem->regions[1].gpa = mem->regions[0].gpa + 4096;
	ck_assert_int_eq(parse_n(len, 2, &m), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "overlap"));
	len = mk_mem(2, 2);
	mem->regions[1].uaddr = mem->regions[0].uaddr + (1 << 20) - 1;
	ck_assert_int_eq(parse_n(len, 2, &m), -EINVAL);
	/* Empty and wrapping. */
	len = mk_mem(1, 1);
	mem->regions[0].size = 0;
	ck_assert_int_eq(parse_n(len, 1, &m), -EINVAL);
	len = mk_mem(1, 1);
	mem->regions[0].gpa = ~0ull - 10;
	ck_assert_int_eq(parse_n(len, 1, &m), -EINVAL);
}
END_TEST

START_TEST(test_vring_values)
{
	struct vhost_user_msg m;
	struct vhost_user_vring_state s = {.index = 0, .num = 256};
	struct vhost_user_vring_addr a = {.index = VHOST_USER_MAX_QUEUES};
	uint64_t v;
	size_t len;

	len = mk(VHOST_USER_SET_VRING_NUM, 1, 8, &s);
	ck_assert_int_eq(parse_n(len, 0, &m), 0);
	s.index = VHOST_USER_MAX_QUEUES;
	len = mk(VHOST_USER_SET_VRING_NUM, 1, 8, &s);
	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "ring index"));
	s.index = 1;
	for (unsigned i = 0; i < 4; i++) {
		static const uint32_t bad[] = {0, 3, 65536, 1000};

		s.num = bad[i];
		len = mk(VHOST_USER_SET_VRING_NUM, 1, 8, &s);
		ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	}
	s.num = 32768;
	len = mk(VHOST_USER_SET_VRING_NUM, 1, 8, &s);
	ck_assert_int_eq(parse_n(len, 0, &m), 0);
	s.num = 70000;
	len = mk(VHOST_USER_SET_VRING_BASE, 1, 8, &s);
	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	s.num = 2;
	len = mk(VHOST_USER_SET_VRING_ENABLE, 1, 8, &s);
	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	len = mk(VHOST_USER_SET_VRING_ADDR, 1, sizeof(a), &a);
	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	a.index = 3;
	len = mk(VHOST_USER_SET_VRING_ADDR, 1, sizeof(a), &a);
	ck_assert_int_eq(parse_n(len, 0, &m), 0);
	v = 200;
	len = mk(VHOST_USER_SET_VRING_KICK, 1, 8, &v);
	ck_assert_int_eq(parse_n(len, 1, &m), -EINVAL);
	v = 1ull << 40;
	len = mk(VHOST_USER_SET_VRING_KICK, 1, 8, &v);
	ck_assert_int_eq(parse_n(len, 1, &m), -EINVAL);
}
END_TEST

START_TEST(test_config_inflight)
{
	struct vhost_user_msg m;
	struct vhost_user_config c = {.offset = 0, .size = 8};
	struct vhost_user_inflight in = {.num_queues = 2, .queue_size = 128};
	size_t len;

	len = mk(VHOST_USER_GET_CONFIG, 1, 12 + 8, &c);
	ck_assert_int_eq(parse_n(len, 0, &m), 0);
	len = mk(VHOST_USER_GET_CONFIG, 1, 12 + 4, &c);
	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	c.offset = 252;
	len = mk(VHOST_USER_SET_CONFIG, 1, 12 + 8, &c);
	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	c.offset = 0;
	c.size = 300;
	len = mk(VHOST_USER_SET_CONFIG, 1, 12 + 8, &c);
	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	/* An empty GET_CONFIG reply is the back end's refusal, and valid. */
	len = mk(VHOST_USER_GET_CONFIG, 1 | VHOST_USER_REPLY, 0, NULL);
	ck_assert_int_eq(parse_n(len, 0, &m), 0);

	len = mk(VHOST_USER_GET_INFLIGHT_FD, 1, sizeof(in), &in);
	ck_assert_int_eq(parse_n(len, 0, &m), 0);
	len = mk(VHOST_USER_GET_INFLIGHT_FD, 1, VHOST_USER_INFLIGHT_MIN_SIZE, &in);
	ck_assert_int_eq(parse_n(len, 0, &m), 0);
	len = mk(VHOST_USER_GET_INFLIGHT_FD, 1, 16, &in);
	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	len = mk(VHOST_USER_GET_INFLIGHT_FD, 1 | VHOST_USER_REPLY, sizeof(in), &in);
	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	ck_assert_int_eq(parse_n(len, 1, &m), 0);
	len = mk(VHOST_USER_SET_INFLIGHT_FD, 1, sizeof(in), &in);
	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	ck_assert_int_eq(parse_n(len, 1, &m), 0);
	in.queue_size = 100;
	len = mk(VHOST_USER_SET_INFLIGHT_FD, 1, sizeof(in), &in);
	ck_assert_int_eq(parse_n(len, 1, &m), -EINVAL);
	in.queue_size = 128;
	in.num_queues = 0;
	len = mk(VHOST_USER_SET_INFLIGHT_FD, 1, sizeof(in), &in);
	ck_assert_int_eq(parse_n(len, 1, &m), -EINVAL);
}
END_TEST

START_TEST(test_replies)
{
	struct vhost_user_msg m;
	uint64_t v = 0;
	size_t len;

	/* REPLY_ACK of a request without a reply of its own. */
	len = mk(VHOST_USER_SET_MEM_TABLE, 1 | VHOST_USER_REPLY, 8, &v);
	ck_assert_int_eq(parse_n(len, 0, &m), 0);
	len = mk(VHOST_USER_GET_FEATURES, 1 | VHOST_USER_REPLY, 0, NULL);
	ck_assert_int_eq(parse_n(len, 0, &m), -EINVAL);
	ck_assert(vu_request_has_reply(VHOST_USER_GET_VRING_BASE));
	ck_assert(!vu_request_has_reply(VHOST_USER_SET_VRING_BASE));
}
END_TEST

/* Over a socket: a message in pieces, fds counted across reads, too many fds. */
START_TEST(test_rx)
{
	struct vhost_user_msg m, out;
	struct vu_rx rx;
	int sv[2], fds[9];
	uint64_t v = 3;
	size_t len;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	vu_rx_init(&rx);
	len = mk(VHOST_USER_SET_VRING_CALL, 1, 8, &v);
	mk_fds(fds, 1);
	vu_msg_init(&m, VHOST_USER_SET_VRING_CALL, 8);
	m.payload.u64 = 3;
	m.nfds = 1;
	m.fds[0] = fds[0];
	ck_assert_int_eq(vu_msg_send(sv[0], &m, 1000), 0);
	close(fds[0]);
	ck_assert_int_eq(vu_rx_read(&rx, sv[1], err, sizeof(err)), 1);
	ck_assert_int_eq(vu_rx_parse(&rx, &out, err, sizeof(err)), 0);
	ck_assert_uint_eq(out.nfds, 1);
	ck_assert(fd_open(out.fds[0]));
	vu_msg_close_fds(&out);

	/* Byte by byte. */
	for (size_t i = 0; i < len; i++) {
		ck_assert_int_eq(vu_rx_read(&rx, sv[1], err, sizeof(err)), 0);
		ck_assert_int_eq(write(sv[0], buf + i, 1), 1);
	}
	ck_assert_int_eq(vu_rx_read(&rx, sv[1], err, sizeof(err)), 1);
	ck_assert_int_eq(vu_rx_parse(&rx, &out, err, sizeof(err)), -EINVAL); /* no fd */

	/* Nine descriptors: refused, all closed. */
	mk_fds(fds, 9);
	{
		char cbuf[CMSG_SPACE(sizeof(int) * 9)];
		struct iovec iov = {.iov_base = buf, .iov_len = len};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf)};
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * 9);
		memcpy(CMSG_DATA(c), fds, sizeof(fds));
		ck_assert_int_eq(sendmsg(sv[0], &mh, 0), (ssize_t)len);
	}
	for (unsigned i = 0; i < 9; i++)
		close(fds[i]);
	ck_assert_int_eq(vu_rx_read(&rx, sv[1], err, sizeof(err)), 1);
	ck_assert_int_eq(vu_rx_parse(&rx, &out, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "more than"));
	for (unsigned i = 0; i < 9; i++)
		ck_assert(!fd_open(fds[i])); /* ours closed above, theirs by rx */

	/* Oversized header over the socket. */
	len = mk(VHOST_USER_SET_FEATURES, 1, 8, &v);
	((struct vhost_user_hdr *)buf)->size = 1 << 20;
	ck_assert_int_eq(write(sv[0], buf, 12), 12);
	ck_assert_int_eq(vu_rx_read(&rx, sv[1], err, sizeof(err)), -EMSGSIZE);
	vu_rx_reset(&rx);

	/* Nobody answers: a bounded wait. */
	ck_assert_int_eq(vu_msg_recv(sv[1], &out, 100, err, sizeof(err)), -ETIMEDOUT);
	close(sv[0]);
	ck_assert_int_eq(vu_msg_recv(sv[1], &out, 100, err, sizeof(err)), -ECONNRESET);
	close(sv[1]);
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("vu_msg", NULL, NULL, 0,
			 UV_TESTS(test_short_header, test_short_and_long_payload, test_unknown,
				  test_oversized, test_bad_version, test_fd_counts, test_mem_table,
				  test_vring_values, test_config_inflight, test_replies, test_rx)));
}
