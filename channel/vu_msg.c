// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vhost_user.h"

/* Payload layouts. */
enum vu_pl { PL_NONE, PL_U64, PL_STATE, PL_ADDR, PL_MEM, PL_CONFIG, PL_INFLIGHT };
/* How many descriptors come with a message. */
enum vu_nfd { FD_NONE, FD_ONE, FD_REGIONS, FD_VRING };

struct vu_req_info {
	const char *name;
	bool known;
	uint8_t pl, nfd;	     /* of the request */
	uint8_t reply_pl, reply_nfd; /* of its own reply; PL_NONE: REPLY_ACK's u64 only */
};

#define REQ(n, p, f, rp, rf) [VHOST_USER_##n] = {#n, true, p, f, rp, rf}
#define NAME(n)		     [VHOST_USER_##n] = {#n, false, 0, 0, 0, 0}

static const struct vu_req_info vu_reqs[] = {
	REQ(GET_FEATURES, PL_NONE, FD_NONE, PL_U64, FD_NONE),
	REQ(SET_FEATURES, PL_U64, FD_NONE, PL_NONE, FD_NONE),
	REQ(SET_OWNER, PL_NONE, FD_NONE, PL_NONE, FD_NONE),
	REQ(RESET_OWNER, PL_NONE, FD_NONE, PL_NONE, FD_NONE),
	REQ(SET_MEM_TABLE, PL_MEM, FD_REGIONS, PL_NONE, FD_NONE),
	NAME(SET_LOG_BASE),
	NAME(SET_LOG_FD),
	REQ(SET_VRING_NUM, PL_STATE, FD_NONE, PL_NONE, FD_NONE),
	REQ(SET_VRING_ADDR, PL_ADDR, FD_NONE, PL_NONE, FD_NONE),
	REQ(SET_VRING_BASE, PL_STATE, FD_NONE, PL_NONE, FD_NONE),
	REQ(GET_VRING_BASE, PL_STATE, FD_NONE, PL_STATE, FD_NONE),
	REQ(SET_VRING_KICK, PL_U64, FD_VRING, PL_NONE, FD_NONE),
	REQ(SET_VRING_CALL, PL_U64, FD_VRING, PL_NONE, FD_NONE),
	REQ(SET_VRING_ERR, PL_U64, FD_VRING, PL_NONE, FD_NONE),
	REQ(GET_PROTOCOL_FEATURES, PL_NONE, FD_NONE, PL_U64, FD_NONE),
	REQ(SET_PROTOCOL_FEATURES, PL_U64, FD_NONE, PL_NONE, FD_NONE),
	REQ(GET_QUEUE_NUM, PL_NONE, FD_NONE, PL_U64, FD_NONE),
	REQ(SET_VRING_ENABLE, PL_STATE, FD_NONE, PL_NONE, FD_NONE),
	NAME(SEND_RARP),
	NAME(NET_SET_MTU),
	REQ(SET_BACKEND_REQ_FD, PL_NONE, FD_ONE, PL_NONE, FD_NONE),
	NAME(IOTLB_MSG),
	NAME(SET_VRING_ENDIAN),
	REQ(GET_CONFIG, PL_CONFIG, FD_NONE, PL_CONFIG, FD_NONE),
	REQ(SET_CONFIG, PL_CONFIG, FD_NONE, PL_NONE, FD_NONE),
	NAME(CREATE_CRYPTO_SESSION),
	NAME(CLOSE_CRYPTO_SESSION),
	NAME(POSTCOPY_ADVISE),
	NAME(POSTCOPY_LISTEN),
	NAME(POSTCOPY_END),
	REQ(GET_INFLIGHT_FD, PL_INFLIGHT, FD_NONE, PL_INFLIGHT, FD_ONE),
	REQ(SET_INFLIGHT_FD, PL_INFLIGHT, FD_ONE, PL_NONE, FD_NONE),
	NAME(GPU_SET_SOCKET),
	REQ(RESET_DEVICE, PL_NONE, FD_NONE, PL_NONE, FD_NONE),
	NAME(VRING_KICK),
	NAME(GET_MAX_MEM_SLOTS),
	NAME(ADD_MEM_REG),
	NAME(REM_MEM_REG),
	REQ(SET_STATUS, PL_U64, FD_NONE, PL_NONE, FD_NONE),
	REQ(GET_STATUS, PL_NONE, FD_NONE, PL_U64, FD_NONE),
};

static const struct vu_req_info *vu_req_info(uint32_t request)
{
	if (request >= sizeof(vu_reqs) / sizeof(vu_reqs[0]) || !vu_reqs[request].name)
		return NULL;
	return &vu_reqs[request];
}

const char *vu_request_name(uint32_t request)
{
	const struct vu_req_info *ri = vu_req_info(request);

	return ri ? ri->name : "unknown";
}

bool vu_request_has_reply(uint32_t request)
{
	const struct vu_req_info *ri = vu_req_info(request);

	return ri && ri->known && ri->reply_pl != PL_NONE;
}

static int vu_err(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int vu_err(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

void vu_msg_init(struct vhost_user_msg *m, uint32_t request, uint32_t size)
{
	memset(m, 0, sizeof(*m));
	m->hdr.request = request;
	m->hdr.flags = VHOST_USER_VERSION;
	m->hdr.size = size;
	for (unsigned i = 0; i < VHOST_USER_MAX_FDS; i++)
		m->fds[i] = -1;
}

int vu_msg_take_fd(struct vhost_user_msg *m, unsigned i)
{
	int fd;

	if (i >= m->nfds)
		return -1;
	fd = m->fds[i];
	m->fds[i] = -1;
	return fd;
}

void vu_msg_close_fds(struct vhost_user_msg *m)
{
	for (unsigned i = 0; i < m->nfds && i < VHOST_USER_MAX_FDS; i++) {
		if (m->fds[i] >= 0)
			close(m->fds[i]);
		m->fds[i] = -1;
	}
	m->nfds = 0;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int vu_check_memory(const struct vhost_user_msg *m, char *err, size_t errlen)
{
	const struct vhost_user_memory *mem = &m->payload.memory;
	uint32_t n = mem->nregions;

	if (n == 0 || n > VHOST_USER_MAX_REGIONS)
		return vu_err(err, errlen, -EINVAL, "%u memory regions (1 to %u allowed)", n,
			      VHOST_USER_MAX_REGIONS);
	if (m->hdr.size < 8 + n * sizeof(struct vhost_user_region))
		return vu_err(err, errlen, -EINVAL, "%u memory regions in %u bytes", n,
			      m->hdr.size);
	for (uint32_t i = 0; i < n; i++) {
		const struct vhost_user_region *r = &mem->regions[i];

		if (!r->size || r->gpa + r->size < r->gpa || r->uaddr + r->size < r->uaddr ||
		    r->mmap_offset + r->size < r->mmap_offset)
			return vu_err(err, errlen, -EINVAL, "memory region %u is empty or wraps",
				      i);
		for (uint32_t j = 0; j < i; j++) {
			const struct vhost_user_region *o = &mem->regions[j];

			if (ranges_overlap(r->gpa, r->size, o->gpa, o->size) ||
			    ranges_overlap(r->uaddr, r->size, o->uaddr, o->size))
				return vu_err(err, errlen, -EINVAL,
					      "memory regions %u and %u overlap", j, i);
		}
	}
	return 0;
}

static int vu_check_size(const struct vhost_user_msg *m, enum vu_pl pl, char *err, size_t errlen)
{
	static const uint32_t exact[] = {
		[PL_NONE] = 0,
		[PL_U64] = sizeof(uint64_t),
		[PL_STATE] = sizeof(struct vhost_user_vring_state),
		[PL_ADDR] = sizeof(struct vhost_user_vring_addr),
	};
	uint32_t size = m->hdr.size;
	const struct vhost_user_config *c = &m->payload.config;

	switch (pl) {
	case PL_NONE:
	case PL_U64:
	case PL_STATE:
	case PL_ADDR:
		if (size != exact[pl])
			return vu_err(err, errlen, -EINVAL, "payload of %u bytes, %u expected",
				      size, exact[pl]);
		return 0;
	case PL_MEM:
		if (size < 8)
			return vu_err(err, errlen, -EINVAL, "memory table of %u bytes", size);
		return vu_check_memory(m, err, errlen);
	case PL_CONFIG:
		if (size < VHOST_USER_CONFIG_HDR_SIZE || c->size > VHOST_USER_MAX_CONFIG_SIZE ||
		    size != VHOST_USER_CONFIG_HDR_SIZE + c->size)
			return vu_err(err, errlen, -EINVAL, "config access of %u bytes in %u",
				      size < VHOST_USER_CONFIG_HDR_SIZE ? 0 : c->size, size);
		if (c->offset > VHOST_USER_MAX_CONFIG_SIZE - c->size)
			return vu_err(err, errlen, -EINVAL, "config access past %u bytes",
				      VHOST_USER_MAX_CONFIG_SIZE);
		return 0;
	case PL_INFLIGHT:
		if (size < VHOST_USER_INFLIGHT_MIN_SIZE ||
		    size > sizeof(struct vhost_user_inflight))
			return vu_err(err, errlen, -EINVAL, "in-flight description of %u bytes",
				      size);
		return 0;
	}
	return vu_err(err, errlen, -EINVAL, "bad payload kind");
}

static bool is_pow2(uint32_t n)
{
	return n && !(n & (n - 1));
}

static int vu_check_index(uint32_t idx, char *err, size_t errlen)
{
	if (idx >= VHOST_USER_MAX_QUEUES)
		return vu_err(err, errlen, -EINVAL, "ring index %u out of range", idx);
	return 0;
}

/* Checks of values that no request may carry, whatever the device. */
static int vu_check_request(const struct vhost_user_msg *m, char *err, size_t errlen)
{
	const union vhost_user_payload *p = &m->payload;
	const struct vhost_user_inflight *in = &p->inflight;

	switch (m->hdr.request) {
	case VHOST_USER_SET_VRING_NUM:
		if (!is_pow2(p->state.num) || p->state.num > 32768)
			return vu_err(err, errlen, -EINVAL,
				      "ring size %u is not a power of two up to 32768",
				      p->state.num);
		return vu_check_index(p->state.index, err, errlen);
	case VHOST_USER_SET_VRING_BASE:
		if (p->state.num > UINT16_MAX)
			return vu_err(err, errlen, -EINVAL, "ring base %u", p->state.num);
		return vu_check_index(p->state.index, err, errlen);
	case VHOST_USER_SET_VRING_ENABLE:
		if (p->state.num > 1)
			return vu_err(err, errlen, -EINVAL, "ring enable %u", p->state.num);
		return vu_check_index(p->state.index, err, errlen);
	case VHOST_USER_GET_VRING_BASE:
		return vu_check_index(p->state.index, err, errlen);
	case VHOST_USER_SET_VRING_ADDR:
		return vu_check_index(p->addr.index, err, errlen);
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		if (p->u64 & ~(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD))
			return vu_err(err, errlen, -EINVAL, "unknown bits in %#llx",
				      (unsigned long long)p->u64);
		return vu_check_index(p->u64 & VHOST_USER_VRING_IDX_MASK, err, errlen);
	case VHOST_USER_GET_INFLIGHT_FD:
	case VHOST_USER_SET_INFLIGHT_FD:
		if (!in->num_queues || in->num_queues > VHOST_USER_MAX_QUEUES ||
		    !is_pow2(in->queue_size) || in->queue_size > 32768)
			return vu_err(err, errlen, -EINVAL, "in-flight area for %u queues of %u",
				      in->num_queues, in->queue_size);
		return 0;
	}
	return 0;
}

static int vu_check_fds(const struct vhost_user_msg *m, enum vu_nfd nfd, char *err, size_t errlen)
{
	unsigned want = 0;

	switch (nfd) {
	case FD_NONE:
		want = 0;
		break;
	case FD_ONE:
		want = 1;
		break;
	case FD_REGIONS:
		want = m->payload.memory.nregions;
		break;
	case FD_VRING:
		want = (m->payload.u64 & VHOST_USER_VRING_NOFD) ? 0 : 1;
		break;
	}
	if (m->nfds != want)
		return vu_err(err, errlen, -EINVAL, "%u file descriptors, %u expected", m->nfds,
			      want);
	return 0;
}

static int vu_parse_body(struct vhost_user_msg *m, char *err, size_t errlen)
{
	const struct vu_req_info *ri = vu_req_info(m->hdr.request);
	bool reply = m->hdr.flags & VHOST_USER_REPLY;
	enum vu_pl pl;
	enum vu_nfd nfd;
	int ret;

	if (!ri || !ri->known)
		return vu_err(err, errlen, -ENOSYS, "unknown request %u (%s)", m->hdr.request,
			      vu_request_name(m->hdr.request));
	pl = reply ? (ri->reply_pl == PL_NONE ? PL_U64 : ri->reply_pl) : ri->pl;
	nfd = reply ? ri->reply_nfd : ri->nfd;
	/* A back end refuses GET_CONFIG with an empty reply. */
	if (reply && m->hdr.request == VHOST_USER_GET_CONFIG && m->hdr.size == 0)
		pl = PL_NONE;
	ret = vu_check_size(m, pl, err, errlen);
	if (!ret && !reply)
		ret = vu_check_request(m, err, errlen);
	if (!ret && reply && m->hdr.request == VHOST_USER_GET_VRING_BASE &&
	    m->payload.state.num > UINT16_MAX)
		ret = vu_err(err, errlen, -EINVAL, "ring base %u", m->payload.state.num);
	if (!ret)
		ret = vu_check_fds(m, nfd, err, errlen);
	return ret;
}

int vu_msg_parse(const void *buf, size_t len, const int *fds, unsigned nfds,
		 struct vhost_user_msg *m, char *err, size_t errlen)
{
	int ret = 0;

	vu_msg_init(m, 0, 0);
	/* Take the descriptors first so that every exit below closes them. */
	for (unsigned i = 0; i < nfds; i++) {
		if (i < VHOST_USER_MAX_FDS)
			m->fds[i] = fds[i];
		else if (fds[i] >= 0)
			close(fds[i]);
	}
	m->nfds = nfds < VHOST_USER_MAX_FDS ? nfds : VHOST_USER_MAX_FDS;
	if (nfds > VHOST_USER_MAX_FDS)
		ret = vu_err(err, errlen, -EINVAL, "%u file descriptors, at most %u", nfds,
			     VHOST_USER_MAX_FDS);
	else if (len < VHOST_USER_HDR_SIZE)
		ret = vu_err(err, errlen, -EINVAL, "short header: %zu bytes", len);
	if (ret)
		goto fail;
	memcpy(&m->hdr, buf, VHOST_USER_HDR_SIZE);
	if ((m->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
		ret = vu_err(err, errlen, -EINVAL, "%s: version %u, only 1 is known",
			     vu_request_name(m->hdr.request),
			     m->hdr.flags & VHOST_USER_VERSION_MASK);
	else if (m->hdr.size > VHOST_USER_MAX_PAYLOAD)
		ret = vu_err(err, errlen, -EMSGSIZE, "%s: payload of %u bytes, at most %zu",
			     vu_request_name(m->hdr.request), m->hdr.size, VHOST_USER_MAX_PAYLOAD);
	else if (len - VHOST_USER_HDR_SIZE != m->hdr.size)
		ret = vu_err(err, errlen, -EINVAL, "%s: payload of %u bytes announced, %zu came",
			     vu_request_name(m->hdr.request), m->hdr.size,
			     len - VHOST_USER_HDR_SIZE);
	if (ret)
		goto fail;
	memcpy(&m->payload, (const uint8_t *)buf + VHOST_USER_HDR_SIZE, m->hdr.size);
	ret = vu_parse_body(m, err, errlen);
	if (ret)
		goto fail;
	return 0;
fail:
	vu_msg_close_fds(m);
	return ret;
}

static int vu_wait(int sock, short events, const struct timespec *deadline)
{
	struct pollfd pfd = {.fd = sock, .events = events};
	struct timespec now;
	long ms;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	if (ms <= 0)
		return -ETIMEDOUT;
	n = poll(&pfd, 1, (int)ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n ? 0 : -ETIMEDOUT;
}

static void vu_deadline(struct timespec *d, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, d);
	d->tv_sec += timeout_ms / 1000;
	d->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (d->tv_nsec >= 1000000000) {
		d->tv_sec++;
		d->tv_nsec -= 1000000000;
	}
}

int vu_msg_send(int sock, const struct vhost_user_msg *m, int timeout_ms)
{
	uint8_t buf[VHOST_USER_HDR_SIZE + VHOST_USER_MAX_PAYLOAD];
	char cbuf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
	size_t len, off = 0;
	struct timespec deadline;
	unsigned nfds = m->nfds;

	if (m->hdr.size > VHOST_USER_MAX_PAYLOAD || nfds > VHOST_USER_MAX_FDS)
		return -EINVAL;
	len = VHOST_USER_HDR_SIZE + m->hdr.size;
	memcpy(buf, &m->hdr, VHOST_USER_HDR_SIZE);
	memcpy(buf + VHOST_USER_HDR_SIZE, &m->payload, m->hdr.size);
	vu_deadline(&deadline, timeout_ms);
	while (off < len) {
		struct iovec iov = {.iov_base = buf + off, .iov_len = len - off};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n;
		int ret;

		/* The descriptors ride on the first byte only. */
		if (nfds && off == 0) {
			struct cmsghdr *c;

			memset(cbuf, 0, sizeof(cbuf));
			mh.msg_control = cbuf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(c), m->fds, sizeof(int) * nfds);
		}
		n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		ret = vu_wait(sock, POLLOUT, &deadline);
		if (ret)
			return ret;
	}
	return 0;
}

void vu_rx_init(struct vu_rx *rx)
{
	rx->have = 0;
	rx->nfds = 0;
	rx->fd_overflow = false;
}

void vu_rx_reset(struct vu_rx *rx)
{
	for (unsigned i = 0; i < rx->nfds; i++)
		close(rx->fds[i]);
	vu_rx_init(rx);
}

static void vu_rx_take_fds(struct vu_rx *rx, struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;
		int fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (rx->nfds < VHOST_USER_MAX_FDS) {
				rx->fds[rx->nfds++] = fd;
			} else {
				close(fd);
				rx->fd_overflow = true;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		rx->fd_overflow = true;
}

int vu_rx_read(struct vu_rx *rx, int sock, char *err, size_t errlen)
{
	for (;;) {
		char cbuf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		size_t want = VHOST_USER_HDR_SIZE;
		struct iovec iov;
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n;

		if (rx->have >= VHOST_USER_HDR_SIZE) {
			struct vhost_user_hdr h;

			memcpy(&h, rx->buf, sizeof(h));
			if (h.size > VHOST_USER_MAX_PAYLOAD)
				return vu_err(err, errlen, -EMSGSIZE,
					      "%s: payload of %u bytes, at most %zu",
					      vu_request_name(h.request), h.size,
					      VHOST_USER_MAX_PAYLOAD);
			want += h.size;
			if (rx->have == want)
				return 1;
		}
		/* Never read into the next message: its descriptors are its own. */
		iov.iov_base = rx->buf + rx->have;
		iov.iov_len = want - rx->have;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return vu_err(err, errlen, -errno, "recvmsg: %s", strerror(errno));
		vu_rx_take_fds(rx, &mh);
		if (n == 0)
			return vu_err(err, errlen, -ECONNRESET, "peer closed the connection%s",
				      rx->have ? " mid-message" : "");
		rx->have += (size_t)n;
	}
}

int vu_rx_parse(struct vu_rx *rx, struct vhost_user_msg *m, char *err, size_t errlen)
{
	int ret;

	if (rx->fd_overflow) {
		vu_rx_reset(rx);
		vu_msg_init(m, 0, 0);
		return vu_err(err, errlen, -EINVAL, "more than %u file descriptors",
			      VHOST_USER_MAX_FDS);
	}
	ret = vu_msg_parse(rx->buf, rx->have, rx->fds, rx->nfds, m, err, errlen);
	vu_rx_init(rx); /* the descriptors now belong to m, or are closed */
	return ret;
}

int vu_msg_recv(int sock, struct vhost_user_msg *m, int timeout_ms, char *err, size_t errlen)
{
	struct vu_rx rx;
	struct timespec deadline;
	int ret;

	vu_rx_init(&rx);
	vu_deadline(&deadline, timeout_ms);
	for (;;) {
		ret = vu_rx_read(&rx, sock, err, errlen);
		if (ret == 1)
			return vu_rx_parse(&rx, m, err, errlen);
		if (ret == 0)
			ret = vu_wait(sock, POLLIN, &deadline);
		if (ret == -ETIMEDOUT)
			vu_err(err, errlen, ret, "no answer within %d ms", timeout_ms);
		if (ret < 0) {
			vu_rx_reset(&rx);
			return ret;
		}
	}
}
