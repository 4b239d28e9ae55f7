/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UV_IOPARTD_SUITE_RIG_H
#define UV_IOPARTD_SUITE_RIG_H

/*
 * For test_iopartd_suite*.c: private UV_RUNTIME_DIR/UV_STATE_DIR, the real
 * ultravisord and iopartd binaries (UVD_BIN, IOPARTD_BIN), control-message
 * calls, and a vhost-user-blk front end (vu_front plus a virtq driver) whose
 * guest RAM is a memfd, the partition's own when ultravisord gave one.
 * UV_TEST_KEEP=1 keeps each test's directory (logs) in /tmp.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl_msg.h"
#include "daemon_rig.h"
#include "vu_guest.h"
#include "uvcheck.h"
#include "vhost_user.h"
#include "virtq_driver.h"
#include "vu_front.h"

#define RAM_SIZE (16u << 20) /* a 16 MiB partition */
#define RING_GPA 0x10000
#define HDR_GPA	 0x80000
#define DATA_GPA 0x90000
#define QNUM	 64

static char dir[DRIG_DIR_LEN], run_dir[DRIG_SUB_LEN], state_dir[DRIG_SUB_LEN], uvd_sock[192],
	img[192], err[512];
static pid_t uvd_pid, iop_pid[2];

static inline void rig_setup(void)
{
	int fd;

	drig_dirs("test_iopartd_suite", dir, run_dir, state_dir);
	snprintf(uvd_sock, sizeof(uvd_sock), "%s/ultravisord.sock", run_dir);
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	fd = open(img, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	uvd_pid = iop_pid[0] = iop_pid[1] = 0;
}

static inline void rig_teardown(void)
{
	drig_kill(&iop_pid[0]);
	drig_kill(&iop_pid[1]);
	drig_kill(&uvd_pid);
	uv_rmtree(dir);
}

/* Runs argv in the private directories, stderr appended to dir/log. */
static inline pid_t spawn(char *const argv[], const char *log, const char *notify)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/%s", dir, log);
	return drig_spawn(argv, run_dir, state_dir, notify, path);
}

static inline void uvd_start(void)
{
	char *argv[] = {UVD_BIN, "--memory-pool", "256M", "--log-level", "debug", NULL};
	char log[192];

	snprintf(log, sizeof(log), "%s/ultravisord.log", dir);
	uvd_pid = drig_start(argv, dir, run_dir, state_dir, log);
}

/* iopartd --name name [extra]; *nfd (when not NULL) hears its READY=1. */
static inline pid_t iop_start(const char *name, const char *extra, int *nfd)
{
	char *argv[8] = {IOPARTD_BIN, "--log-level", "debug", "--name", (char *)name};
	char notify[192], log[64];
	int n = 5;

	if (extra) {
		argv[n++] = "--ultravisord";
		argv[n++] = (char *)extra;
	}
	argv[n] = NULL;
	if (nfd)
		*nfd = drig_notify_open(dir, name, notify, sizeof(notify));
	snprintf(log, sizeof(log), "iopartd-%s.log", name);
	return spawn(argv, log, nfd ? notify : NULL);
}

/* 1 when dir/log contains s within ms. */
static inline int log_has(const char *log, const char *s, int ms)
{
	char path[192], buf[1 << 16];

	snprintf(path, sizeof(path), "%s/%s", dir, log);
	for (int t = 0; t <= ms; t += 20) {
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = 0;
		if (strstr(buf, s))
			return 1;
		usleep(20000);
	}
	return 0;
}

/* A request from printf-formatted JSON with fds[0..nfds); the reply and its fds. */
static inline int callv(int fd, json_object **rep, int *fds, int *nfds, const char *fmt, va_list ap)
{
	char buf[2048];
	json_object *req;
	int ret;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	req = json_tokener_parse(buf);
	ck_assert_msg(req, "bad test JSON %s", buf);
	ret = ctl_call(fd, req, rep, fds, nfds, 8000, err, sizeof(err));
	json_object_put(req);
	return ret;
}

static inline int call(int fd, json_object **rep, int *fds, int *nfds, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static inline int call(int fd, json_object **rep, int *fds, int *nfds, const char *fmt, ...)
{
	va_list ap;
	int ret;

	if (nfds)
		*nfds = 0;
	va_start(ap, fmt);
	ret = callv(fd, rep, fds, nfds, fmt, ap);
	va_end(ap);
	return ret;
}

/* The same, sending fds[0..*nfds). */
static inline int call_fds(int fd, json_object **rep, int *fds, int *nfds, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static inline int call_fds(int fd, json_object **rep, int *fds, int *nfds, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = callv(fd, rep, fds, nfds, fmt, ap);
	va_end(ap);
	return ret;
}

static inline int client(void)
{
	json_object *rep;
	int fd = drig_connect(uvd_sock, 8);

	ck_assert_msg(call(fd, &rep, NULL, NULL, "{\"op\":\"hello\",\"role\":\"client\"}") == 0,
		      "%s", err);
	json_object_put(rep);
	return fd;
}

/* The iopartd's health in ultravisord's status, or "" when it is not listed. */
static inline void iop_health(const char *name, char *out, size_t len)
{
	json_object *rep, *a;
	int fd = ctl_connect(uvd_sock, err, sizeof(err));

	snprintf(out, len, "%s", fd < 0 ? "no ultravisord" : "");
	if (fd < 0)
		return;
	if (!call(fd, &rep, NULL, NULL, "{\"op\":\"status\"}") &&
	    json_object_object_get_ex(rep, "iopartds", &a))
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			json_object *o = json_object_array_get_idx(a, i);

			if (!strcmp(json_object_get_string(json_object_object_get(o, "name")),
				    name))
				snprintf(out, len, "%s",
					 json_object_get_string(
						 json_object_object_get(o, "health")));
		}
	json_object_put(rep);
	close(fd);
}

static inline void wait_health(const char *name, const char *want)
{
	char got[64] = "";

	for (int t = 0; t < 250; t++) {
		iop_health(name, got, sizeof(got));
		if (!strcmp(got, want))
			return;
		usleep(20000);
	}
	ck_abort_msg("iopartd %s: '%s' in status, not '%s'", name, got, want);
}

/* channel_create with spec; 0 with the front end in *fe_fd, or -EREMOTEIO with err. */
static inline int chan_create(int cfd, unsigned dev, const char *iop, const char *spec, int *fe_fd)
{
	int fds[CTL_MAX_FDS], nfds, ret;
	json_object *rep = NULL;

	ret = call(cfd, &rep, fds, &nfds,
		   "{\"op\":\"channel_create\",\"partition\":\"p\",\"device\":%u,"
		   "\"iopartd\":\"%s\"%s%s}",
		   dev, iop, spec ? ",\"spec\":" : "", spec ? spec : "");
	json_object_put(rep);
	if (ret)
		return ret;
	ck_assert_int_eq(nfds, 1);
	*fe_fd = fds[0];
	return 0;
}

/* partition_reserve p: its guest memory. */
static inline int reserve(int cfd)
{
	int fds[CTL_MAX_FDS], nfds;
	json_object *rep;

	ck_assert_msg(call(cfd, &rep, fds, &nfds,
			   "{\"op\":\"partition_reserve\",\"name\":\"p\",\"memory_mib\":16,"
			   "\"cpus\":1}") == 0,
		      "%s", err);
	json_object_put(rep);
	ck_assert_int_eq(nfds, 1);
	return fds[0];
}

#define ck_fe ck_vu_guest

static inline void fe_init(struct vu_guest *e, int memfd)
{
	vu_guest_init(e, memfd, RAM_SIZE, RING_GPA, QNUM, 0);
}

/* What uvmm does on a channel's socket; first: a fresh in-flight area, else the kept one. */
static inline void fe_connect(struct vu_guest *e, int fd, bool first)
{
	vu_front_attach(&e->f, fd);
	ck_fe(e, vu_front_handshake(&e->f));
	ck_assert(e->f.features & 1ull << VIRTIO_BLK_F_FLUSH);
	ck_fe(e, vu_front_set_features(&e->f, 1ull << VIRTIO_F_VERSION_1));
	vu_guest_setup(e, QNUM, e->drv.used->idx, first);
}

/* Waits for the one request in flight to come back; its status. */
static inline uint8_t fe_wait(struct vu_guest *e)
{
	struct pollfd p = {.fd = e->call, .events = POLLIN};
	uint64_t v;
	uint32_t len;
	void *tok;
	int got;

	for (int i = 0; (got = virtq_driver_get_used(&e->drv, &len, &tok)) == 0; i++) {
		ck_assert_msg(i < 50, "no completion in 5 s");
		poll(&p, 1, 100);
		(void)!read(e->call, &v, 8);
	}
	ck_assert_int_eq(got, 1);
	return e->ram[HDR_GPA + 16];
}

/* Makes a request of sector available (data at DATA_GPA), not kicked. */
static inline void fe_add(struct vu_guest *e, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr *h = (void *)(e->ram + HDR_GPA);
	struct virtq_buf b[3] = {{HDR_GPA, 16, false},
				 {DATA_GPA, 512, type == VIRTIO_BLK_T_IN},
				 {HDR_GPA + 16, 1, true}};

	*h = (struct virtio_blk_outhdr){.type = type, .sector = sector};
	e->ram[HDR_GPA + 16] = 0xff;
	ck_assert_int_ge(virtq_driver_add(&e->drv, b, 3, false, (void *)1), 0);
}

static inline uint8_t fe_req(struct vu_guest *e, uint32_t type, uint64_t sector)
{
	uint64_t one = 1;

	fe_add(e, type, sector);
	ck_assert_int_eq(write(e->kick, &one, 8), 8);
	return fe_wait(e);
}

/* Writes sector with val through the channel, finds it in the image, reads it back. */
static inline void fe_write_read(struct vu_guest *e, uint64_t sector, uint8_t val)
{
	uint8_t buf[512];
	int fd = open(img, O_RDONLY | O_CLOEXEC);

	memset(e->ram + DATA_GPA, val, 512);
	ck_assert_uint_eq(fe_req(e, VIRTIO_BLK_T_OUT, sector), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(pread(fd, buf, 512, (off_t)sector * 512), 512);
	close(fd);
	ck_assert_uint_eq(buf[0], val);
	ck_assert_uint_eq(buf[511], val);
	memset(e->ram + DATA_GPA, 0, 512);
	ck_assert_uint_eq(fe_req(e, VIRTIO_BLK_T_IN, sector), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(e->ram[DATA_GPA + 100], val);
}

#endif
