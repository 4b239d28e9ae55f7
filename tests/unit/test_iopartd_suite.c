// SPDX-License-Identifier: GPL-2.0
/*
 * iopartd's suite mode (iopartd --name) with the real ultravisord in private
 * directories: registration (READY=1 only once ultravisord accepts it, status
 * shows it healthy), a channel on a raw image driven by the project's
 * vhost-user front end in the partition's own guest memory, ultravisord
 * killed with SIGKILL and restarted under that channel (it keeps working and
 * iopartd registers again), a channel moved to a second iopartd with its
 * in-flight area, refused specs, the device freed when the front end closes,
 * a second iopartd of a name refused, usage errors, and SIGTERM.
 */
#include "chan_mem.h"
#include "iopartd_suite_rig.h"
#include "virtq.h"

/* SIGTERM: exit 0, pid file gone. */
static void iop_term(pid_t *pid, const char *name)
{
	char pidfile[192];
	int st;

	snprintf(pidfile, sizeof(pidfile), "%s/iopartd-%s.pid", run_dir, name);
	ck_assert_int_eq(access(pidfile, F_OK), 0);
	ck_assert_int_eq(kill(*pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(*pid, &st, 0), *pid);
	*pid = 0;
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "iopartd %s: status %#x", name, st);
	ck_assert_int_eq(access(pidfile, F_OK), -1);
}

START_TEST(test_register_restart)
{
	int nfd, cfd, memfd, fefd;
	char spec[600], c;
	struct pollfd p;
	struct vu_guest e;

	/* Started before ultravisord: it waits, and says READY=1 only once registered. */
	iop_pid[0] = iop_start("a", NULL, &nfd);
	ck_assert_msg(!drig_notified(nfd, 400), "READY=1 with no ultravisord");
	uvd_start();
	ck_assert_msg(drig_notified(nfd, 5000), "no READY=1 after ultravisord started");
	wait_health("a", "healthy");

	cfd = client();
	memfd = reserve(cfd);
	snprintf(spec, sizeof(spec),
		 "{\"export\":\"vhost-user-blk,path=%s,format=raw,serial=suite\"}", img);
	ck_assert_msg(chan_create(cfd, 0, "a", spec, &fefd) == 0, "%s", err);
	fe_init(&e, memfd);
	fe_connect(&e, fefd, true);
	fe_write_read(&e, 7, 0x5a);

	/* ultravisord dies: the channel does not notice. */
	drig_kill(&uvd_pid);
	close(cfd);
	fe_write_read(&e, 8, 0x6b);
	uvd_start();
	wait_health("a", "healthy");
	fe_write_read(&e, 9, 0x7c);
	ck_assert(log_has("iopartd-a.log", "ultravisord went away; 1 channels keep running", 0));
	ck_assert(log_has("iopartd-a.log", "registered again with ultravisord as iopartd a", 0));

	/* SIGTERM: exit 0, pid file gone, the channel closed, ultravisord sees it die. */
	iop_term(&iop_pid[0], "a");
	p = (struct pollfd){.fd = e.f.fd, .events = POLLIN};
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	ck_assert_int_eq(read(e.f.fd, &c, 1), 0);
	wait_health("a", "dead");
	vu_guest_free(&e);
	close(nfd);
}
END_TEST

static void refused(int cfd, unsigned dev, const char *spec, const char *why)
{
	int fd;

	ck_assert_int_eq(chan_create(cfd, dev, "a", spec, &fd), -EREMOTEIO);
	ck_assert_msg(strstr(err, "refused the channel") && strstr(err, why),
		      "spec %s: '%s' does not say '%s'", spec ? spec : "(none)", err, why);
}

START_TEST(test_refusals)
{
	char spec[600], bad[192], qc[192];
	int cfd, memfd, fefd, fd;
	struct vu_guest e;
	/* A qcow2 header of a version nobody knows. */
	static const uint8_t qhdr[8] = {'Q', 'F', 'I', 0xfb, 0, 0, 0, 99};

	snprintf(bad, sizeof(bad), "%s/odd.img", dir);
	fd = open(bad, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ck_assert_int_eq(ftruncate(fd, 1000), 0);
	close(fd);
	snprintf(qc, sizeof(qc), "%s/bad.qcow2", dir);
	fd = open(qc, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ck_assert_int_eq(write(fd, qhdr, sizeof(qhdr)), (ssize_t)sizeof(qhdr));
	ck_assert_int_eq(ftruncate(fd, 65536), 0);
	close(fd);

	uvd_start();
	iop_pid[0] = iop_start("a", NULL, NULL);
	wait_health("a", "healthy");
	cfd = client();
	memfd = reserve(cfd);

	refused(cfd, 0, NULL, "no 'spec'");
	refused(cfd, 0, "{\"export\":5}", "'export' must be a string");
	refused(cfd, 0, "{\"export\":\"vhost-user-rng\",\"path\":\"x\"}", "unknown key 'path'");
	refused(cfd, 0, "{\"export\":\"vhost-user-scsi\"}", "unknown export type");
	refused(cfd, 0, "{\"export\":\"vhost-user-blk\"}", "missing key 'path'");
	refused(cfd, 0, "{\"export\":\"vhost-user-blk,path=/x,socket=/tmp/s\"}",
		"unknown key 'socket'");
	refused(cfd, 0, "{\"export\":\"vhost-user-blk,path=/x,readonly=maybe\"}",
		"readonly: 'maybe'");
	snprintf(spec, sizeof(spec), "{\"export\":\"vhost-user-blk,path=%s/missing.img\"}", dir);
	refused(cfd, 0, spec, "missing.img: No such file");
	snprintf(spec, sizeof(spec), "{\"export\":\"vhost-user-blk,path=%s\"}", bad);
	refused(cfd, 0, spec, "not a multiple of 512");
	snprintf(spec, sizeof(spec), "{\"export\":\"vhost-user-blk,path=%s,format=qcow2\"}", qc);
	refused(cfd, 0, spec, "bad.qcow2");
	snprintf(spec, sizeof(spec), "{\"export\":\"vhost-user-blk,path=%s\"}", dir);
	refused(cfd, 0, spec, "not a regular file");

	/* None of that hurt: a good channel works, and its device goes with its front end. */
	snprintf(spec, sizeof(spec), "{\"export\":\"vhost-user-blk,path=%s\"}", img);
	ck_assert_msg(chan_create(cfd, 0, "a", spec, &fefd) == 0, "%s", err);
	ck_assert_msg(chan_create(cfd, 1, "a", "{\"export\":\"vhost-user-rng\"}", &fd) == 0, "%s",
		      err);
	fe_init(&e, memfd);
	fe_connect(&e, fefd, true);
	fe_write_read(&e, 3, 0x11);
	vu_guest_free(&e);
	ck_assert(log_has("iopartd-a.log", "(p device 0): closed by its front end", 5000));
	close(fd);
	ck_assert(log_has("iopartd-a.log", "(p device 1): closed by its front end", 5000));
	wait_health("a", "healthy");
	iop_term(&iop_pid[0], "a");
	close(cfd);
}
END_TEST

/*
 * Plays a back end that took a write of sector from the ring, marking it in
 * the in-flight area, and died before completing it (as iopartd a would when
 * killed with I/O in flight): the project's own virtq code, on the same rings.
 */
static void dead_back_end_takes(struct vu_guest *e, uint64_t sector, uint8_t val)
{
	struct virtq_inflight *area;
	struct virtq_elem el;
	struct chan_mem mem;
	struct virtq vq;
	uint8_t *map;

	map = mmap(NULL, e->area.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, e->area.fd,
		   (off_t)e->area.mmap_offset);
	ck_assert(map != MAP_FAILED);
	area = (void *)map;
	memset(e->ram + DATA_GPA, val, 512);
	fe_add(e, VIRTIO_BLK_T_OUT, sector);
	chan_mem_init(&mem);
	ck_assert_int_eq(chan_mem_add_host(&mem, 0, RAM_SIZE, (uintptr_t)e->ram, e->ram), 0);
	ck_assert_int_eq(virtq_setup(&vq, &mem, QNUM, e->drv.desc_gpa, e->drv.avail_gpa,
				     e->drv.used_gpa, 0, e->drv.used->idx),
			 0);
	ck_assert_int_eq(area->version, 1); /* a's queue used it */
	ck_assert_int_eq(virtq_inflight_attach(&vq, area, false), 0);
	ck_assert_int_eq(virtq_pop(&vq, &el), 1);
	ck_assert_uint_eq(area->desc[el.head].inflight, 1);
	chan_mem_clear(&mem);
	munmap(map, e->area.mmap_size);
}

START_TEST(test_move_inflight)
{
	int cfd, memfd, fefd, fds[CTL_MAX_FDS], nfds, fd;
	json_object *rep;
	uint8_t buf[512];
	char spec[600];
	struct vu_guest e;

	uvd_start();
	iop_pid[0] = iop_start("a", NULL, NULL);
	iop_pid[1] = iop_start("b", NULL, NULL);
	wait_health("a", "healthy");
	wait_health("b", "healthy");
	cfd = client();
	memfd = reserve(cfd);
	snprintf(spec, sizeof(spec), "{\"export\":\"vhost-user-blk,path=%s,num-queues=1\"}", img);
	ck_assert_msg(chan_create(cfd, 0, "a", spec, &fefd) == 0, "%s", err);
	fe_init(&e, memfd);
	fe_connect(&e, fefd, true);
	fe_write_read(&e, 1, 0x21);

	/* The front end hands over its in-flight area; the move passes it to b. */
	fds[0] = e.area.fd;
	nfds = 1;
	ck_assert_msg(call_fds(cfd, &rep, fds, &nfds,
			       "{\"op\":\"channel_inflight\",\"partition\":\"p\",\"device\":0}") ==
			      0,
		      "%s", err);
	json_object_put(rep);
	ck_assert_msg(call(cfd, &rep, fds, &nfds,
			   "{\"op\":\"channel_move\",\"partition\":\"p\",\"device\":0,"
			   "\"iopartd\":\"b\"}") == 0,
		      "%s", err);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(rep, "epoch")), 1);
	json_object_put(rep);
	ck_assert_int_eq(nfds, 1);
	ck_assert(log_has("iopartd-b.log", "moved here", 0));
	ck_assert(log_has("iopartd-b.log", "in-flight area of", 0));

	/*
	 * a goes with a write in flight; as uvmm on a back-end change, the front
	 * end hands b the same area on the new socket, and b completes that write.
	 */
	vu_front_close(&e.f);
	ck_assert(
		log_has("iopartd-a.log", "channel 1 (p device 0): closed by its front end", 5000));
	dead_back_end_takes(&e, 4, 0x44);
	fe_connect(&e, fds[0], false);
	ck_assert_uint_eq(fe_wait(&e), VIRTIO_BLK_S_OK);
	ck_assert(log_has("iopartd-b.log", "resubmitting 1 requests left in flight", 0));
	fd = open(img, O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(pread(fd, buf, sizeof(buf), 4 * 512), (ssize_t)sizeof(buf));
	close(fd);
	ck_assert_uint_eq(buf[0], 0x44);
	ck_assert_uint_eq(buf[511], 0x44);
	fe_write_read(&e, 2, 0x22);
	fe_write_read(&e, 1, 0x23);
	vu_guest_free(&e);
	close(cfd);
	iop_term(&iop_pid[0], "a");
	iop_term(&iop_pid[1], "b");
}
END_TEST

START_TEST(test_second_and_usage)
{
	char *argv[] = {IOPARTD_BIN, "--name", "a", NULL};
	char *usage[][6] = {
		{IOPARTD_BIN, "--name", "A", NULL},
		{IOPARTD_BIN, "--name", "", NULL},
		{IOPARTD_BIN, "--name", "-a", NULL},
		{IOPARTD_BIN, "--name", "abcdefghijklmnopqrstuvwxyz0123456", NULL},
		{IOPARTD_BIN, "--ultravisord", "/x", "--export", "vhost-user-rng,socket=/tmp/x"},
	};
	pid_t pid;
	int st;

	iop_pid[0] = iop_start("a", NULL, NULL);
	ck_assert(log_has("iopartd-a.log", "trying again every 100 ms", 5000));
	pid = spawn(argv, "second.log", NULL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	ck_assert(log_has("second.log", "refusing to run a second iopartd a: ", 0));
	for (unsigned i = 0; i < sizeof(usage) / sizeof(usage[0]); i++) {
		pid = spawn(usage[i], "usage.log", NULL);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "usage case %u: status %#x", i,
			      st);
	}
	/* Still retrying, quietly: no second report within the 10 s. */
	iop_term(&iop_pid[0], "a");
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite("iopartd_suite", rig_setup, rig_teardown, 50,
				     UV_TESTS(test_register_restart, test_refusals,
					      test_move_inflight, test_second_and_usage)));
}
