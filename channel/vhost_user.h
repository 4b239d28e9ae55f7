/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_VHOST_USER_H
#define UV_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The vhost-user wire protocol (QEMU's docs/interop/vhost-user.rst): a
 * 12-byte header, a payload whose layout depends on the request, and up to
 * eight file descriptors in SCM_RIGHTS ancillary data. Numbers are in host
 * byte order, as the protocol only runs between processes of one host.
 */

/* Header flags. */
#define VHOST_USER_VERSION	0x1
#define VHOST_USER_VERSION_MASK 0x3
#define VHOST_USER_REPLY	(1u << 2)
#define VHOST_USER_NEED_REPLY	(1u << 3)

/* u64 payload of SET_VRING_KICK/CALL/ERR: ring index and "no fd" flag. */
#define VHOST_USER_VRING_IDX_MASK 0xffull
#define VHOST_USER_VRING_NOFD	  (1ull << 8)

#define VHOST_USER_MAX_FDS	   8
#define VHOST_USER_MAX_REGIONS	   8
#define VHOST_USER_MAX_CONFIG_SIZE 256
/* Ring indexes a message may name; a back end may serve fewer. */
#define VHOST_USER_MAX_QUEUES 16

/* Virtio feature bit that announces GET/SET_PROTOCOL_FEATURES. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30

/* Protocol feature bits. */
#define VHOST_USER_PROTOCOL_F_MQ		   0
#define VHOST_USER_PROTOCOL_F_LOG_SHMFD		   1
#define VHOST_USER_PROTOCOL_F_RARP		   2
#define VHOST_USER_PROTOCOL_F_REPLY_ACK		   3
#define VHOST_USER_PROTOCOL_F_MTU		   4
#define VHOST_USER_PROTOCOL_F_BACKEND_REQ	   5
#define VHOST_USER_PROTOCOL_F_CROSS_ENDIAN	   6
#define VHOST_USER_PROTOCOL_F_CRYPTO_SESSION	   7
#define VHOST_USER_PROTOCOL_F_PAGEFAULT		   8
#define VHOST_USER_PROTOCOL_F_CONFIG		   9
#define VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD	   10
#define VHOST_USER_PROTOCOL_F_HOST_NOTIFIER	   11
#define VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD	   12
#define VHOST_USER_PROTOCOL_F_RESET_DEVICE	   13
#define VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS 14
#define VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS  15
#define VHOST_USER_PROTOCOL_F_STATUS		   16

/* Requests of the front end. */
enum vhost_user_request {
	VHOST_USER_NONE = 0,
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SEND_RARP = 19,
	VHOST_USER_NET_SET_MTU = 20,
	VHOST_USER_SET_BACKEND_REQ_FD = 21,
	VHOST_USER_IOTLB_MSG = 22,
	VHOST_USER_SET_VRING_ENDIAN = 23,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_CREATE_CRYPTO_SESSION = 26,
	VHOST_USER_CLOSE_CRYPTO_SESSION = 27,
	VHOST_USER_POSTCOPY_ADVISE = 28,
	VHOST_USER_POSTCOPY_LISTEN = 29,
	VHOST_USER_POSTCOPY_END = 30,
	VHOST_USER_GET_INFLIGHT_FD = 31,
	VHOST_USER_SET_INFLIGHT_FD = 32,
	VHOST_USER_GPU_SET_SOCKET = 33,
	VHOST_USER_RESET_DEVICE = 34,
	VHOST_USER_VRING_KICK = 35,
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VHOST_USER_ADD_MEM_REG = 37,
	VHOST_USER_REM_MEM_REG = 38,
	VHOST_USER_SET_STATUS = 39,
	VHOST_USER_GET_STATUS = 40,
};

/* Requests of the back end, on the channel SET_BACKEND_REQ_FD gave it. */
enum vhost_user_backend_request {
	VHOST_USER_BACKEND_IOTLB_MSG = 1,
	VHOST_USER_BACKEND_CONFIG_CHANGE_MSG = 2,
	VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG = 3,
};

struct vhost_user_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* of the payload */
};

struct vhost_user_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vhost_user_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_uaddr;
	uint64_t used_uaddr;
	uint64_t avail_uaddr;
	uint64_t log_gaddr;
};

struct vhost_user_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;
	uint64_t mmap_offset;
};

struct vhost_user_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_region regions[VHOST_USER_MAX_REGIONS];
};

#define VHOST_USER_CONFIG_HDR_SIZE 12
struct vhost_user_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t data[VHOST_USER_MAX_CONFIG_SIZE];
};

/* 20 bytes of fields; QEMU sends the padded 24. */
#define VHOST_USER_INFLIGHT_MIN_SIZE 20
struct vhost_user_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
	uint32_t padding;
};

struct vhost_user_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};

union vhost_user_payload {
	uint64_t u64;
	struct vhost_user_vring_state state;
	struct vhost_user_vring_addr addr;
	struct vhost_user_memory memory;
	struct vhost_user_config config;
	struct vhost_user_inflight inflight;
	struct vhost_user_log log;
};

/* The largest payload any request we know has; bigger sizes are refused. */
#define VHOST_USER_MAX_PAYLOAD sizeof(union vhost_user_payload)
#define VHOST_USER_HDR_SIZE    sizeof(struct vhost_user_hdr)

/*
 * A message as this code handles it: the header, the payload (not packed
 * against the header; the wire has it at offset 12), and the descriptors
 * that came with it. A descriptor set to -1 has been consumed.
 */
struct vhost_user_msg {
	struct vhost_user_hdr hdr;
	union vhost_user_payload payload;
	unsigned nfds;
	int fds[VHOST_USER_MAX_FDS];
};

/* Name of a request for messages, "unknown" for numbers we do not know. */
const char *vu_request_name(uint32_t request);

/*
 * Validates one whole message, header and payload as received (len bytes),
 * with the nfds descriptors that came with it. A message with the REPLY flag
 * is checked as the reply to its request. Always takes ownership of fds: on
 * success they are in m->fds, on failure they are closed. Returns 0,
 * -ENOSYS for a request this code does not know (m->hdr is filled), or
 * -EINVAL / -EMSGSIZE with a reason in err.
 */
int vu_msg_parse(const void *buf, size_t len, const int *fds, unsigned nfds,
		 struct vhost_user_msg *m, char *err, size_t errlen);

/* Whether a request has a reply of its own, not just REPLY_ACK's u64. */
bool vu_request_has_reply(uint32_t request);

/* Starts a message of the current version. */
void vu_msg_init(struct vhost_user_msg *m, uint32_t request, uint32_t size);
/* Takes descriptor i out of m (-1 when absent); the caller then owns it. */
int vu_msg_take_fd(struct vhost_user_msg *m, unsigned i);
/* Closes every descriptor m still holds. */
void vu_msg_close_fds(struct vhost_user_msg *m);

/*
 * Sends m (header, hdr.size bytes of payload, m->fds) on a stream socket,
 * blocking or not, waiting at most timeout_ms for room. Returns 0, -ETIMEDOUT
 * or -errno. The descriptors stay the caller's.
 */
int vu_msg_send(int sock, const struct vhost_user_msg *m, int timeout_ms);

/*
 * Receiving side: bytes and descriptors accumulate here until one whole
 * message is in, so that a slow or hostile peer never blocks a loop.
 */
struct vu_rx {
	size_t have;
	unsigned nfds;
	bool fd_overflow; /* more descriptors came than a message may carry */
	int fds[VHOST_USER_MAX_FDS];
	uint8_t buf[VHOST_USER_HDR_SIZE + VHOST_USER_MAX_PAYLOAD];
};

void vu_rx_init(struct vu_rx *rx);
/*
 * Reads what the (non-blocking) socket has, never past the current message.
 * Returns 1 when a whole message is in rx->buf (rx->have bytes), 0 when more
 * is needed, -ECONNRESET at end of file, -EMSGSIZE for an oversized header,
 * or -errno. On 1, hand rx to vu_rx_parse() next.
 */
int vu_rx_read(struct vu_rx *rx, int sock, char *err, size_t errlen);
/* vu_msg_parse() of the complete message in rx; resets rx for the next one. */
int vu_rx_parse(struct vu_rx *rx, struct vhost_user_msg *m, char *err, size_t errlen);
/* Closes what rx holds and empties it. */
void vu_rx_reset(struct vu_rx *rx);

/*
 * Blocking receive of one message with a timeout (the front end's side).
 * Returns as vu_msg_parse(), or -ETIMEDOUT, -ECONNRESET, -errno.
 */
int vu_msg_recv(int sock, struct vhost_user_msg *m, int timeout_ms, char *err, size_t errlen);

#endif
