// SPDX-License-Identifier: GPL-2.0
/*
 * Standbys in iopartd (docs/iopartd.md, "Standbys") with the real
 * ultravisord and two iopartds, the test as the partition's uvmm: a blk
 * standby handshaken and given the memory table in advance, then, after the
 * active iopartd wrote to the image and was killed, switched to (rings from
 * the used index): it opens the image again, so it reads what the other
 * wrote, raw and qcow2 (whose tables it would otherwise have as they were
 * when it came), and its own writes leave a sound image. rng and taps refuse
 * a standby with "no standby", the words commandd reads.
 */
#include <net/if.h>

#include "iopartd_suite_rig.h"

/* The test as p's uvmm: hello, partition_attach. */
static int uvmm_attach(void)
{
	int fd = drig_connect(uvd_sock, 8), fds[CTL_MAX_FDS], n;
	json_object *rep;

	ck_assert_msg(call(fd, &rep, NULL, NULL,
			   "{\"op\":\"hello\",\"role\":\"uvmm\",\"name\":\"p\"}") == 0,
		      "%s", err);
	json_object_put(rep);
	ck_assert_msg(call(fd, &rep, fds, &n, "{\"op\":\"partition_attach\",\"name\":\"p\"}") == 0,
		      "%s", err);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	json_object_put(rep);
	return fd;
}

/* channel_standby of p's device dev on iop: 0 with the push's front end in *sfd, or -EREMOTEIO. */
static int standby_ask(int cfd, int uvmm, unsigned dev, const char *iop, int *sfd)
{
	int fds[CTL_MAX_FDS], n, ret;
	json_object *rep, *push;

	ret = call(cfd, &rep, NULL, NULL,
		   "{\"op\":\"channel_standby\",\"partition\":\"p\",\"device\":%u,"
		   "\"iopartd\":\"%s\"}",
		   dev, iop);
	if (ret) {
		json_object_put(rep);
		return ret;
	}
	ck_assert_str_eq(drig_str(rep, "standby"), iop);
	json_object_put(rep);
	push = drig_recv(uvmm, fds, &n);
	ck_assert_str_eq(drig_str(push, "op"), "channel_standby");
	ck_assert_str_eq(drig_str(push, "standby"), iop);
	ck_assert_int_eq(n, 1);
	json_object_put(push);
	*sfd = fds[0];
	return 0;
}

/* What uvmm does with a standby when it comes: the handshake and the memory table. */
static void standby_prepare(struct vu_guest *e, struct vu_front *sf, int fd)
{
	struct vu_mem_region m = {
		.gpa = 0, .size = e->ram_size, .uaddr = (uintptr_t)e->ram, .fd = e->memfd};

	vu_front_init(sf);
	vu_front_attach(sf, fd);
	ck_assert_msg(vu_front_handshake(sf) == 0, "%s", sf->err);
	ck_assert_msg(vu_front_set_mem_table(sf, &m, 1) == 0, "%s", sf->err);
}

/* The active back end is gone: the standby's connection takes the rings, from the used index. */
static void standby_switch(struct vu_guest *e, struct vu_front *sf)
{
	vu_front_close(&e->f);
	e->f = *sf;
	vu_front_init(sf);
	ck_fe(e, vu_front_set_features(&e->f, 1ull << VIRTIO_F_VERSION_1));
	vu_guest_setup(e, QNUM, e->drv.used->idx, false);
}

static void fe_write(struct vu_guest *e, uint64_t sector, uint8_t val)
{
	memset(e->ram + DATA_GPA, val, 512);
	ck_assert_uint_eq(fe_req(e, VIRTIO_BLK_T_OUT, sector), VIRTIO_BLK_S_OK);
}

static void fe_read_is(struct vu_guest *e, uint64_t sector, uint8_t val)
{
	memset(e->ram + DATA_GPA, 0xee, 512);
	ck_assert_uint_eq(fe_req(e, VIRTIO_BLK_T_IN, sector), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(e->ram[DATA_GPA], val);
	ck_assert_uint_eq(e->ram[DATA_GPA + 511], val);
}

/* Sector of the raw file path holds val. */
static void raw_has(const char *path, uint64_t sector, uint8_t val)
{
	uint8_t buf[512];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, 512, (off_t)sector * 512), 512);
	close(fd);
	ck_assert_uint_eq(buf[0], val);
	ck_assert_uint_eq(buf[511], val);
}

/*
 * A channel on a's image path (format), a standby on b; a writes sectors in
 * clusters b's first open saw unallocated, dies; b takes over and reads them.
 */
static void standby_sees_writes(const char *path, const char *format)
{
	int cfd, memfd, fefd, uvmm, sfd, na, nb;
	struct vu_front sf;
	struct vu_guest e;
	char spec[600];

	uvd_start();
	iop_pid[0] = iop_start("a", NULL, &na);
	iop_pid[1] = iop_start("b", NULL, &nb);
	ck_assert(drig_notified(na, 10000) && drig_notified(nb, 10000));
	close(na);
	close(nb);
	cfd = client();
	memfd = reserve(cfd);
	uvmm = uvmm_attach();
	snprintf(spec, sizeof(spec), "{\"export\":\"vhost-user-blk,path=%s,format=%s\"}", path,
		 format);
	ck_assert_msg(chan_create(cfd, 0, "a", spec, &fefd) == 0, "%s", err);
	fe_init(&e, memfd);
	fe_connect(&e, fefd, true);
	fe_write(&e, 1, 0x11);

	ck_assert_msg(standby_ask(cfd, uvmm, 0, "b", &sfd) == 0, "%s", err);
	ck_assert(log_has("iopartd-b.log", "standing by for", 5000));
	standby_prepare(&e, &sf, sfd);
	/* a goes on serving; b, idle, has the image as it was. */
	fe_write(&e, 300, 0x5a);
	fe_write(&e, 1500, 0x6b);
	fe_read_is(&e, 300, 0x5a);

	drig_kill(&iop_pid[0]);
	standby_switch(&e, &sf);
	ck_assert(log_has("iopartd-b.log", "standby taking over; device opened again", 5000));
	fe_read_is(&e, 300, 0x5a);
	fe_read_is(&e, 1500, 0x6b);
	fe_read_is(&e, 1, 0x11);
	/* Its own writes, in a cluster a never touched and in one it did. */
	fe_write(&e, 900, 0x7c);
	fe_write(&e, 301, 0x7d);
	fe_read_is(&e, 900, 0x7c);
	fe_read_is(&e, 300, 0x5a);
	fe_read_is(&e, 301, 0x7d);
	vu_guest_free(&e);
	ck_assert(log_has("iopartd-b.log", "closed by its front end", 5000));
	close(uvmm);
	close(cfd);
}

START_TEST(test_standby_raw)
{
	standby_sees_writes(img, "raw");
	raw_has(img, 300, 0x5a);
	raw_has(img, 1500, 0x6b);
	raw_has(img, 900, 0x7c);
	raw_has(img, 301, 0x7d);
}
END_TEST

static int sh(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(test_standby_qcow2)
{
	char qc[192], raw[192], cmd[600];

	snprintf(qc, sizeof(qc), "%s/disk.qcow2", dir);
	snprintf(raw, sizeof(raw), "%s/disk.raw", dir);
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 %s 1M", qc);
	ck_assert_int_eq(sh(cmd), 0);
	standby_sees_writes(qc, "qcow2");
	/* Both back ends' allocations in one sound image, each sector where it belongs. */
	drig_kill(&iop_pid[1]);
	snprintf(cmd, sizeof(cmd), "qemu-img check -q %s", qc);
	ck_assert_msg(sh(cmd) == 0, "%s failed", cmd);
	snprintf(cmd, sizeof(cmd), "qemu-img convert -f qcow2 -O raw %s %s", qc, raw);
	ck_assert_int_eq(sh(cmd), 0);
	raw_has(raw, 1, 0x11);
	raw_has(raw, 300, 0x5a);
	raw_has(raw, 1500, 0x6b);
	raw_has(raw, 900, 0x7c);
	raw_has(raw, 301, 0x7d);
	raw_has(raw, 302, 0);
}
END_TEST

/* A tap name nobody uses: uvsbPID. */
static void tap_name(char *out, size_t len)
{
	snprintf(out, len, "uvsb%d", (int)(getpid() % 100000));
	ck_assert_uint_lt(strlen(out), IFNAMSIZ);
}

START_TEST(test_standby_refused)
{
	int cfd, uvmm, fd, sfd, memfd;
	char spec[200], tap[IFNAMSIZ];

	uvd_start();
	iop_pid[0] = iop_start("a", NULL, NULL);
	iop_pid[1] = iop_start("b", NULL, NULL);
	wait_health("a", "healthy");
	wait_health("b", "healthy");
	cfd = client();
	memfd = reserve(cfd);
	close(memfd);
	uvmm = uvmm_attach();
	ck_assert_msg(chan_create(cfd, 0, "a", "{\"export\":\"vhost-user-rng\"}", &fd) == 0, "%s",
		      err);
	ck_assert_int_eq(standby_ask(cfd, uvmm, 0, "b", &sfd), -EREMOTEIO);
	ck_assert_msg(strstr(err, "iopartd 'b' refused the channel: vhost-user-rng: only one "
				  "process can hold it: no standby"),
		      "%s", err);
	/* b lost nothing: its registration and other channels go on. */
	wait_health("b", "healthy");

	/* A tap, which a holds: refused for what it is, not for being busy. */
	tap_name(tap, sizeof(tap));
	snprintf(spec, sizeof(spec), "{\"export\":\"vhost-user-net,tap=%s\"}", tap);
	if (chan_create(cfd, 1, "a", spec, &fd) == 0) {
		ck_assert_int_eq(standby_ask(cfd, uvmm, 1, "b", &sfd), -EREMOTEIO);
		ck_assert_msg(
			strstr(err, "vhost-user-net: only one process can hold it: no standby"),
			"%s", err);
		close(fd);
	} else {
		fprintf(stderr, "test_standby_refused: no tap here (%s): net not checked\n", err);
	}
	wait_health("b", "healthy");
	close(uvmm);
	close(cfd);
}
END_TEST

int main(void)
{
	return uv_check_run(
		uv_suite("iopartd_suite_standby", rig_setup, rig_teardown, 60,
			 UV_TESTS(test_standby_raw, test_standby_qcow2, test_standby_refused)));
}
