// SPDX-License-Identifier: GPL-2.0
/*
 * Back-end restart loses nothing: the real iopartd serves a block export to
 * this program, which plays the guest and its vhost-user front end. While
 * writes are in flight the daemon is killed with SIGKILL; a new one starts on
 * the same socket, the front end reconnects and hands over the in-flight
 * area it kept, and every request completes exactly once with status OK.
 * The image then holds every block's pattern.
 *
 * Usage: vu_restart IOPARTD-BINARY (ctest passes it).
 */
#include "chan_mem.h"
#include "uvcheck.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vhost_user.h"
#include "virtq_driver.h"
#include "vu_front.h"
#include "vu_guest.h"

#define RAM_SIZE   (8u << 20)
#define RING_GPA   0x10000
#define HDR_GPA	   0x40000 /* 32 bytes per request: header, then status */
#define DATA_GPA   0x100000
#define QSIZE	   256
#define QD	   64 /* 3 descriptors each: 192 of the 256 */
#define NREQ	   1024
#define BLOCK	   4096
#define ROUNDS	   12
#define MAX_ROUNDS 48
#define KILLS	   4 /* per round: after the first kick, then every NREQ / KILLS */

static const char *iopartd_bin;

struct rig {
	char dir[64], img[96], sock[96], log[96];
	pid_t pid;
	struct vu_guest g; /* RAM, the virtq, kick/call, the front end, the in-flight area */
	/* Per request of the round: submitted, completed. */
	unsigned submitted, completed;
	uint8_t done[NREQ];
	/* What the kills found: requests marked in flight, avail but not taken. */
	unsigned kills, kill_inflight, kill_pending, kills_mid_flight;
	/* This round's kicks sent, calls received. */
	unsigned kicks, calls;
};

#define ck_front(r, call) ck_assert_msg((call) == 0, "%s: %s", #call, (r)->g.f.err)

static uint64_t pattern(unsigned round, unsigned block, unsigned word)
{
	return (uint64_t)round << 56 | (uint64_t)block << 24 | word;
}

static void daemon_start(struct rig *r)
{
	char spec[256];
	char *argv[] = {(char *)iopartd_bin, "--log-level", "info", "--export", spec, NULL};
	posix_spawn_file_actions_t fa;

	snprintf(spec, sizeof(spec), "vhost-user-blk,path=%s,socket=%s", r->img, r->sock);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, r->log, O_WRONLY | O_APPEND | O_CREAT, 0644);
	ck_assert_int_eq(posix_spawn(&r->pid, iopartd_bin, &fa, NULL, argv, NULL), 0);
	posix_spawn_file_actions_destroy(&fa);
}

static void daemon_kill(struct rig *r)
{
	int st;

	ck_assert_int_eq(kill(r->pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(r->pid, &st, 0), r->pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	r->pid = 0;
}

/* Connects, retrying until the daemon listens (10 s at most). */
static void front_connect(struct rig *r)
{
	for (int t = 0; t < 1000; t++) {
		if (!vu_front_connect(&r->g.f, r->sock))
			return;
		usleep(10000);
	}
	ck_abort_msg("cannot connect to %s: %s", r->sock, r->g.f.err);
}

/* What a front end does on (re)connect; the first time it asks for the area. */
static void front_setup(struct rig *r, bool first)
{
	/* The ring resumes where the guest sees the device got to. */
	uint16_t used = __atomic_load_n(&r->g.drv.used->idx, __ATOMIC_ACQUIRE);

	front_connect(r);
	ck_front(r, vu_front_handshake(&r->g.f));
	ck_assert(r->g.f.protocol_features & (1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD));
	ck_front(r, vu_front_set_features(&r->g.f, (1ull << VIRTIO_F_VERSION_1) |
							   (1ull << VIRTIO_F_EVENT_IDX)));
	vu_guest_setup(&r->g, QSIZE, used, first);
	ck_assert_int_eq(eventfd_write(r->g.kick, 1), 0);
}

static void rig_init(struct rig *r)
{
	int fd;

	memset(r, 0, sizeof(*r));
	strcpy(r->dir, "/tmp/vu-restart.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(r->dir));
	snprintf(r->img, sizeof(r->img), "%s/disk.img", r->dir);
	snprintf(r->sock, sizeof(r->sock), "%s/blk.sock", r->dir);
	snprintf(r->log, sizeof(r->log), "%s/iopartd.log", r->dir);
	fd = open(r->img, O_CREAT | O_RDWR | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)NREQ * BLOCK), 0);
	close(fd);

	vu_guest_init(&r->g, chan_memfd_create("guest-ram", RAM_SIZE, false), RAM_SIZE, RING_GPA,
		      QSIZE, 1ull << VIRTIO_F_EVENT_IDX);
	daemon_start(r);
	front_setup(r, true);
}

static void rig_free(struct rig *r)
{
	char cmd[160];

	vu_front_close(&r->g.f);
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		waitpid(r->pid, NULL, 0);
	}
	vu_guest_free(&r->g);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", r->dir);
}

/* Request i of a round: write block i with the round's pattern. */
static void submit(struct rig *r, unsigned round, unsigned i)
{
	uint64_t hdr = HDR_GPA + (uint64_t)i * 32, data = DATA_GPA + (uint64_t)i * BLOCK;
	struct virtio_blk_outhdr *h = (void *)(r->g.ram + hdr);
	uint64_t *d = (void *)(r->g.ram + data);
	struct virtq_buf bufs[3] = {
		{hdr, sizeof(*h), false}, {data, BLOCK, false}, {hdr + 16, 1, true}};

	for (unsigned w = 0; w < BLOCK / 8; w++)
		d[w] = pattern(round, i, w);
	*h = (struct virtio_blk_outhdr){.type = VIRTIO_BLK_T_OUT, .sector = (uint64_t)i * 8};
	r->g.ram[hdr + 16] = 0xff;
	ck_assert_int_ge(virtq_driver_add(&r->g.drv, bufs, 3, false, (void *)(uintptr_t)(i + 1)),
			 0);
	r->submitted++;
}

/* Takes every used request; each must be one of ours, once, with status OK. */
static void reap(struct rig *r)
{
	uint32_t len;
	void *tok;
	int got;

again:
	while ((got = virtq_driver_get_used(&r->g.drv, &len, &tok)) == 1) {
		unsigned i = (unsigned)(uintptr_t)tok - 1;

		ck_assert_uint_lt(i, NREQ);
		ck_assert_msg(!r->done[i], "request %u completed twice", i);
		ck_assert_msg(r->g.ram[HDR_GPA + i * 32 + 16] == VIRTIO_BLK_S_OK,
			      "request %u: status %u", i, r->g.ram[HDR_GPA + i * 32 + 16]);
		ck_assert_uint_ge(len, 1);
		r->done[i] = 1;
		r->completed++;
	}
	ck_assert_msg(got == 0, "the used ring returned a head not in flight");
	/* As a guest driver does: ask for a call at the next entry, then look again. */
	if (virtq_driver_enable_cb(&r->g.drv))
		goto again;
}

/* Fills the queue up to QD in flight and kicks when the device asks for it. */
static void fill(struct rig *r, unsigned round)
{
	while (r->submitted < NREQ && r->submitted - r->completed < QD)
		submit(r, round, r->submitted);
	if (virtq_driver_kick_needed(&r->g.drv)) {
		ck_assert_int_eq(eventfd_write(r->g.kick, 1), 0);
		r->kicks++;
	}
}

/*
 * Waits for a call as a guest waits for an interrupt: only a call makes the
 * loop look at the used ring again, so a lost notification fails the test.
 */
static void wait_call(struct rig *r)
{
	struct pollfd p = {.fd = r->g.call, .events = POLLIN};
	uint64_t v;
	int n = poll(&p, 1, 5000);

	ck_assert_msg(n == 1,
		      "no call in 5 s: %u submitted, %u completed, used idx %u, driver at %u",
		      r->submitted, r->completed,
		      __atomic_load_n(&r->g.drv.used->idx, __ATOMIC_ACQUIRE), r->g.drv.last_used);
	ck_assert_int_eq(eventfd_read(r->g.call, &v), 0);
	r->calls++;
}

/* Counts what the dead daemon left: marked in flight, and avail but never taken. */
static void count_left(struct rig *r)
{
	struct virtq_inflight *in = mmap(NULL, r->g.area.mmap_size, PROT_READ, MAP_SHARED,
					 r->g.area.fd, (off_t)r->g.area.mmap_offset);
	uint16_t used = __atomic_load_n(&r->g.drv.used->idx, __ATOMIC_ACQUIRE);
	unsigned n = 0, avail = (uint16_t)(r->g.drv.avail_idx - used);

	ck_assert_ptr_ne(in, MAP_FAILED);
	for (unsigned h = 0; h < QSIZE; h++)
		n += in->desc[h].inflight == 1;
	munmap(in, r->g.area.mmap_size);
	r->kills++;
	r->kill_inflight += n;
	r->kill_pending += avail > n ? avail - n : 0;
	r->kills_mid_flight += n > 0;
}

/* kill -9, a new daemon on the same socket, reconnect with the saved area. */
static void restart(struct rig *r)
{
	daemon_kill(r);
	vu_front_close(&r->g.f);
	count_left(r);
	daemon_start(r);
	front_setup(r, false);
}

/* Every block of the image holds the round's pattern. */
static void verify_image(struct rig *r, unsigned round)
{
	uint64_t buf[BLOCK / 8], want[BLOCK / 8];
	int fd = open(r->img, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	for (unsigned b = 0; b < NREQ; b++) {
		ck_assert_int_eq(pread(fd, buf, BLOCK, (off_t)b * BLOCK), BLOCK);
		for (unsigned w = 0; w < BLOCK / 8; w++)
			want[w] = pattern(round, b, w);
		/* One check per block: each ck_assert costs Check a write. */
		if (memcmp(buf, want, BLOCK)) {
			unsigned w = 0;

			while (buf[w] == want[w])
				w++;
			ck_abort_msg("round %u: block %u word %u: %#llx, expected %#llx", round, b,
				     w, (unsigned long long)buf[w], (unsigned long long)want[w]);
		}
	}
	close(fd);
}

/*
 * One round writes every block: killed right after the first kick (little
 * taken yet), then at each quarter with the queue full; a little jitter
 * moves the kill around the daemon's pop-submit-complete cycle.
 */
static void run_round(struct rig *r, unsigned round)
{
	unsigned kills = 1;
	time_t deadline = time(NULL) + 60;

	r->submitted = r->completed = 0;
	r->kicks = r->calls = 0;
	memset(r->done, 0, sizeof(r->done));
	fill(r, round);
	usleep((unsigned)(rand() % 500));
	restart(r);
	for (;;) {
		ck_assert_msg(time(NULL) < deadline, "round %u: %u of %u completed after 60 s",
			      round, r->completed, NREQ);
		reap(r);
		if (r->completed == NREQ)
			break;
		fill(r, round);
		if (kills < KILLS && r->submitted >= kills * (NREQ / KILLS)) {
			usleep((unsigned)(rand() % 300));
			restart(r);
			kills++;
		}
		wait_call(r);
	}
	verify_image(r, round);
	printf("round %u: %u kicks, %u calls\n", round, r->kicks, r->calls);
}

START_TEST(test_restart)
{
	struct rig r;
	unsigned round;

	srand((unsigned)getpid());
	rig_init(&r);
	/*
	 * Whether a kill lands with requests in flight is up to the scheduler:
	 * on a busy machine 48 kills once caught none. Rounds go on (up to
	 * MAX_ROUNDS) until some did.
	 */
	for (round = 1; round <= ROUNDS || (!r.kills_mid_flight && round <= MAX_ROUNDS); round++)
		run_round(&r, round);
	printf("vu_restart: %u rounds of %u x %u B writes at QD %u; %u kills, %u of them with "
	       "requests in flight; %u requests resubmitted, %u taken from the ring after a "
	       "restart\n",
	       round - 1, NREQ, BLOCK, QD, r.kills, r.kills_mid_flight, r.kill_inflight,
	       r.kill_pending);
	/* The test proves nothing unless some kills caught requests in flight. */
	ck_assert_uint_gt(r.kills_mid_flight, 0);
	rig_free(&r);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("vu_restart");
	TCase *tc = tcase_create("restart");

	if (argc != 2) {
		fprintf(stderr, "usage: %s IOPARTD-BINARY\n", argv[0]);
		return 2;
	}
	iopartd_bin = argv[1];
	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_restart);
	suite_add_tcase(s, tc);
	return uv_check_run(s);
}
