/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_VU_FRONT_H
#define UV_VU_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The front end of a vhost-user connection: synchronous requests on a
 * socket, with reply-ack when the back end offers it. Every function returns
 * 0 or a negative errno, and leaves a message in f->err.
 */
struct vu_front {
	int fd;
	uint64_t features;	    /* the back end's device features */
	uint64_t protocol_features; /* what both ends speak */
	uint16_t max_queues;
	char err[160];
	/* How long a reply may take (vu_front_init sets 5 s); then -ETIMEDOUT. */
	int timeout_ms;
};

struct vu_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;
	uint64_t mmap_offset;
	int fd;
};

struct vu_vring {
	unsigned num;
	uint64_t desc_uaddr, avail_uaddr, used_uaddr;
	uint16_t base;
	int kick_fd, call_fd;
};

struct vu_inflight_area {
	int fd;
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
};

void vu_front_init(struct vu_front *f);
/* Connects to a listening back end; or adopts an already connected fd. */
int vu_front_connect(struct vu_front *f, const char *path);
void vu_front_attach(struct vu_front *f, int fd);
void vu_front_close(struct vu_front *f);
/*
 * GET_FEATURES, GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES (what we both
 * speak), GET_QUEUE_NUM, SET_OWNER.
 */
int vu_front_handshake(struct vu_front *f);
int vu_front_set_features(struct vu_front *f, uint64_t features);
int vu_front_set_mem_table(struct vu_front *f, const struct vu_mem_region *r, unsigned n);
int vu_front_get_config(struct vu_front *f, uint32_t off, void *buf, uint32_t len);
int vu_front_set_config(struct vu_front *f, uint32_t off, const void *buf, uint32_t len);
int vu_front_get_inflight(struct vu_front *f, uint16_t num_queues, uint16_t queue_size,
			  struct vu_inflight_area *out);
int vu_front_set_inflight(struct vu_front *f, const struct vu_inflight_area *a);
/* SET_VRING_NUM, _BASE, _ADDR, _KICK, _CALL. */
int vu_front_vring_setup(struct vu_front *f, unsigned idx, const struct vu_vring *v);
int vu_front_vring_enable(struct vu_front *f, unsigned idx, bool on);
/* GET_VRING_BASE: stops the ring and returns where the back end got to. */
int vu_front_vring_stop(struct vu_front *f, unsigned idx, uint16_t *base);
/* GET_STATUS when spoken (VHOST_USER_PROTOCOL_F_STATUS), else 0. */
int vu_front_get_status(struct vu_front *f, uint8_t *status);
/* SET_STATUS when spoken, else nothing; 0 resets the device. */
int vu_front_set_status(struct vu_front *f, uint8_t status);
/* RESET_DEVICE when spoken, else RESET_OWNER: every ring stops, status 0. */
int vu_front_reset_device(struct vu_front *f);

#endif
