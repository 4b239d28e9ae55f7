// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vhost_user.h"
#include "vu_front.h"

#define BIT(n) (1ULL << (n))

/* What this front end speaks; the handshake keeps the part the back end speaks too. */
static const uint64_t vu_front_protocol =
	BIT(VHOST_USER_PROTOCOL_F_MQ) | BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) |
	BIT(VHOST_USER_PROTOCOL_F_CONFIG) | BIT(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) |
	BIT(VHOST_USER_PROTOCOL_F_RESET_DEVICE) | BIT(VHOST_USER_PROTOCOL_F_STATUS);

static int vu_front_fail(struct vu_front *f, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int vu_front_fail(struct vu_front *f, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->err, sizeof(f->err), fmt, ap);
	va_end(ap);
	return ret;
}

void vu_front_init(struct vu_front *f)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->timeout_ms = 5000;
}

int vu_front_connect(struct vu_front *f, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return vu_front_fail(f, -ENAMETOOLONG, "%s: socket path too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return vu_front_fail(f, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		close(fd);
		return vu_front_fail(f, ret, "connect %s: %s", path, strerror(-ret));
	}
	vu_front_attach(f, fd);
	return 0;
}

void vu_front_attach(struct vu_front *f, int fd)
{
	vu_front_close(f);
	f->fd = fd;
}

void vu_front_close(struct vu_front *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->features = f->protocol_features = 0;
	f->max_queues = 0;
}

/*
 * Sends m and, for a request with a reply of its own, waits for it into
 * *reply; for the others waits for REPLY_ACK's verdict when it is spoken.
 * After -ETIMEDOUT or -EPROTO the stream is out of step: reconnect.
 */
static int vu_front_call(struct vu_front *f, struct vhost_user_msg *m, struct vhost_user_msg *reply)
{
	const char *name = vu_request_name(m->hdr.request);
	bool has_reply = vu_request_has_reply(m->hdr.request);
	bool ack = !has_reply && (f->protocol_features & BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK));
	struct vhost_user_msg r;
	char err[128];
	int ret;

	if (f->fd < 0)
		return vu_front_fail(f, -ENOTCONN, "%s: not connected", name);
	if (ack)
		m->hdr.flags |= VHOST_USER_NEED_REPLY;
	ret = vu_msg_send(f->fd, m, f->timeout_ms);
	if (ret)
		return vu_front_fail(f, ret, "%s: %s", name, strerror(-ret));
	if (!has_reply && !ack)
		return 0;
	ret = vu_msg_recv(f->fd, &r, f->timeout_ms, err, sizeof(err));
	if (ret)
		return vu_front_fail(f, ret == -ENOSYS || ret == -EINVAL ? -EPROTO : ret,
				     "%s: reply: %s", name, err);
	if (!(r.hdr.flags & VHOST_USER_REPLY) || r.hdr.request != m->hdr.request) {
		vu_msg_close_fds(&r);
		return vu_front_fail(f, -EPROTO, "%s: answered with %s", name,
				     vu_request_name(r.hdr.request));
	}
	/* An empty GET_CONFIG reply, or a non-zero ack, is a refusal. */
	if ((ack && r.payload.u64) || r.hdr.size == 0) {
		vu_msg_close_fds(&r);
		return vu_front_fail(f, -EIO, "%s: the back end refused it", name);
	}
	if (reply)
		*reply = r;
	else
		vu_msg_close_fds(&r);
	return 0;
}

static int vu_front_get_u64(struct vu_front *f, uint32_t request, uint64_t *v)
{
	struct vhost_user_msg m, r;
	int ret;

	vu_msg_init(&m, request, 0);
	ret = vu_front_call(f, &m, &r);
	if (!ret)
		*v = r.payload.u64;
	return ret;
}

static int vu_front_set_u64(struct vu_front *f, uint32_t request, uint64_t v)
{
	struct vhost_user_msg m;

	vu_msg_init(&m, request, sizeof(v));
	m.payload.u64 = v;
	return vu_front_call(f, &m, NULL);
}

static int vu_front_simple(struct vu_front *f, uint32_t request)
{
	struct vhost_user_msg m;

	vu_msg_init(&m, request, 0);
	return vu_front_call(f, &m, NULL);
}

int vu_front_handshake(struct vu_front *f)
{
	uint64_t p, n;
	int ret;

	f->protocol_features = 0;
	f->max_queues = 1;
	ret = vu_front_get_u64(f, VHOST_USER_GET_FEATURES, &f->features);
	if (ret || !(f->features & BIT(VHOST_USER_F_PROTOCOL_FEATURES)))
		goto owner;
	ret = vu_front_get_u64(f, VHOST_USER_GET_PROTOCOL_FEATURES, &p);
	if (ret)
		return ret;
	p &= vu_front_protocol;
	ret = vu_front_set_u64(f, VHOST_USER_SET_PROTOCOL_FEATURES, p);
	if (ret)
		return ret;
	f->protocol_features = p;
	if (p & BIT(VHOST_USER_PROTOCOL_F_MQ)) {
		ret = vu_front_get_u64(f, VHOST_USER_GET_QUEUE_NUM, &n);
		if (ret)
			return ret;
		f->max_queues = n > UINT16_MAX ? UINT16_MAX : (uint16_t)n;
	}
owner:
	return ret ? ret : vu_front_simple(f, VHOST_USER_SET_OWNER);
}

int vu_front_set_features(struct vu_front *f, uint64_t features)
{
	/* Protocol features stay on once spoken: rings then wait for ENABLE. */
	return vu_front_set_u64(f, VHOST_USER_SET_FEATURES,
				features | (f->features & BIT(VHOST_USER_F_PROTOCOL_FEATURES)));
}

int vu_front_set_mem_table(struct vu_front *f, const struct vu_mem_region *r, unsigned n)
{
	struct vhost_user_msg m;

	if (!n || n > VHOST_USER_MAX_REGIONS)
		return vu_front_fail(f, -EINVAL, "SET_MEM_TABLE: %u regions", n);
	vu_msg_init(&m, VHOST_USER_SET_MEM_TABLE, 8 + n * sizeof(struct vhost_user_region));
	m.payload.memory.nregions = n;
	for (unsigned i = 0; i < n; i++) {
		m.payload.memory.regions[i] = (struct vhost_user_region){
			.gpa = r[i].gpa,
			.size = r[i].size,
			.uaddr = r[i].uaddr,
			.mmap_offset = r[i].mmap_offset,
		};
		m.fds[i] = r[i].fd;
	}
	m.nfds = n;
	return vu_front_call(f, &m, NULL);
}

static int vu_front_config_msg(struct vu_front *f, struct vhost_user_msg *m, uint32_t request,
			       uint32_t off, uint32_t len)
{
	if (!(f->protocol_features & BIT(VHOST_USER_PROTOCOL_F_CONFIG)))
		return vu_front_fail(f, -ENOTSUP, "%s: the back end has no config space",
				     vu_request_name(request));
	if (len > VHOST_USER_MAX_CONFIG_SIZE || off > VHOST_USER_MAX_CONFIG_SIZE - len)
		return vu_front_fail(f, -EINVAL, "%s: %u bytes at %u", vu_request_name(request),
				     len, off);
	vu_msg_init(m, request, VHOST_USER_CONFIG_HDR_SIZE + len);
	m->payload.config.offset = off;
	m->payload.config.size = len;
	return 0;
}

int vu_front_get_config(struct vu_front *f, uint32_t off, void *buf, uint32_t len)
{
	struct vhost_user_msg m, r;
	int ret = vu_front_config_msg(f, &m, VHOST_USER_GET_CONFIG, off, len);

	if (!ret)
		ret = vu_front_call(f, &m, &r);
	if (ret)
		return ret;
	if (r.payload.config.offset != off || r.payload.config.size != len)
		return vu_front_fail(f, -EPROTO, "GET_CONFIG: %u bytes at %u answered",
				     r.payload.config.size, r.payload.config.offset);
	memcpy(buf, r.payload.config.data, len);
	return 0;
}

int vu_front_set_config(struct vu_front *f, uint32_t off, const void *buf, uint32_t len)
{
	struct vhost_user_msg m;
	int ret = vu_front_config_msg(f, &m, VHOST_USER_SET_CONFIG, off, len);

	if (ret)
		return ret;
	memcpy(m.payload.config.data, buf, len);
	return vu_front_call(f, &m, NULL);
}

int vu_front_get_inflight(struct vu_front *f, uint16_t num_queues, uint16_t queue_size,
			  struct vu_inflight_area *out)
{
	struct vhost_user_msg m, r;
	int ret;

	if (!(f->protocol_features & BIT(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)))
		return vu_front_fail(f, -ENOTSUP, "GET_INFLIGHT_FD: not spoken by the back end");
	vu_msg_init(&m, VHOST_USER_GET_INFLIGHT_FD, sizeof(struct vhost_user_inflight));
	m.payload.inflight.num_queues = num_queues;
	m.payload.inflight.queue_size = queue_size;
	ret = vu_front_call(f, &m, &r);
	if (ret)
		return ret;
	*out = (struct vu_inflight_area){
		.fd = vu_msg_take_fd(&r, 0),
		.mmap_size = r.payload.inflight.mmap_size,
		.mmap_offset = r.payload.inflight.mmap_offset,
		.num_queues = num_queues,
		.queue_size = queue_size,
	};
	return 0;
}

int vu_front_set_inflight(struct vu_front *f, const struct vu_inflight_area *a)
{
	struct vhost_user_msg m;

	if (!(f->protocol_features & BIT(VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)))
		return vu_front_fail(f, -ENOTSUP, "SET_INFLIGHT_FD: not spoken by the back end");
	vu_msg_init(&m, VHOST_USER_SET_INFLIGHT_FD, sizeof(struct vhost_user_inflight));
	m.payload.inflight = (struct vhost_user_inflight){
		.mmap_size = a->mmap_size,
		.mmap_offset = a->mmap_offset,
		.num_queues = a->num_queues,
		.queue_size = a->queue_size,
	};
	m.nfds = 1;
	m.fds[0] = a->fd;
	return vu_front_call(f, &m, NULL);
}

static int vu_front_state(struct vu_front *f, uint32_t request, unsigned idx, uint32_t num)
{
	struct vhost_user_msg m;

	vu_msg_init(&m, request, sizeof(struct vhost_user_vring_state));
	m.payload.state = (struct vhost_user_vring_state){idx, num};
	return vu_front_call(f, &m, NULL);
}

static int vu_front_vring_fd(struct vu_front *f, uint32_t request, unsigned idx, int fd)
{
	struct vhost_user_msg m;

	vu_msg_init(&m, request, sizeof(uint64_t));
	m.payload.u64 = idx | (fd < 0 ? VHOST_USER_VRING_NOFD : 0);
	if (fd >= 0) {
		m.nfds = 1;
		m.fds[0] = fd;
	}
	return vu_front_call(f, &m, NULL);
}

int vu_front_vring_setup(struct vu_front *f, unsigned idx, const struct vu_vring *v)
{
	struct vhost_user_msg m;
	int ret;

	ret = vu_front_state(f, VHOST_USER_SET_VRING_NUM, idx, v->num);
	if (!ret)
		ret = vu_front_state(f, VHOST_USER_SET_VRING_BASE, idx, v->base);
	if (ret)
		return ret;
	vu_msg_init(&m, VHOST_USER_SET_VRING_ADDR, sizeof(struct vhost_user_vring_addr));
	m.payload.addr = (struct vhost_user_vring_addr){
		.index = idx,
		.desc_uaddr = v->desc_uaddr,
		.used_uaddr = v->used_uaddr,
		.avail_uaddr = v->avail_uaddr,
	};
	ret = vu_front_call(f, &m, NULL);
	/* Call before kick: a ring may start on its kick and must be able to interrupt. */
	if (!ret)
		ret = vu_front_vring_fd(f, VHOST_USER_SET_VRING_CALL, idx, v->call_fd);
	if (!ret)
		ret = vu_front_vring_fd(f, VHOST_USER_SET_VRING_KICK, idx, v->kick_fd);
	return ret;
}

int vu_front_vring_enable(struct vu_front *f, unsigned idx, bool on)
{
	/* Without protocol features rings are enabled as they start. */
	if (!(f->features & BIT(VHOST_USER_F_PROTOCOL_FEATURES)))
		return 0;
	return vu_front_state(f, VHOST_USER_SET_VRING_ENABLE, idx, on);
}

int vu_front_vring_stop(struct vu_front *f, unsigned idx, uint16_t *base)
{
	struct vhost_user_msg m, r;
	int ret;

	vu_msg_init(&m, VHOST_USER_GET_VRING_BASE, sizeof(struct vhost_user_vring_state));
	m.payload.state.index = idx;
	ret = vu_front_call(f, &m, &r);
	if (ret)
		return ret;
	if (r.payload.state.index != idx)
		return vu_front_fail(f, -EPROTO, "GET_VRING_BASE %u: answered for ring %u", idx,
				     r.payload.state.index);
	*base = (uint16_t)r.payload.state.num;
	return 0;
}

int vu_front_get_status(struct vu_front *f, uint8_t *status)
{
	uint64_t v = 0;
	int ret = 0;

	if (f->protocol_features & BIT(VHOST_USER_PROTOCOL_F_STATUS))
		ret = vu_front_get_u64(f, VHOST_USER_GET_STATUS, &v);
	if (!ret)
		*status = (uint8_t)v;
	return ret;
}

int vu_front_set_status(struct vu_front *f, uint8_t status)
{
	if (!(f->protocol_features & BIT(VHOST_USER_PROTOCOL_F_STATUS)))
		return 0;
	return vu_front_set_u64(f, VHOST_USER_SET_STATUS, status);
}

int vu_front_reset_device(struct vu_front *f)
{
	if (f->protocol_features & BIT(VHOST_USER_PROTOCOL_F_RESET_DEVICE))
		return vu_front_simple(f, VHOST_USER_RESET_DEVICE);
	return vu_front_simple(f, VHOST_USER_RESET_OWNER);
}
