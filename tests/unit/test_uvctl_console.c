// SPDX-License-Identifier: GPL-2.0
/*
 * uvctl console against a fake console socket served by a thread: piped
 * input relayed verbatim until its end, a far end that closes, a terminal
 * (a pty) in raw mode left by Ctrl-] or a signal with its settings restored.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "console.h"
#include "loop_thread.h"
#include "unix_sock.h"
#include "uvcheck.h"
#include "uvctl.h"

enum fake_mode { FAKE_ECHO, FAKE_BYE };

static struct fake {
	char dir[64], sock[96];
	int lfd;
	enum fake_mode mode;
	pthread_t thread;
	char got[4096]; /* what the console received */
	size_t got_len;
} fk;

/* One client: echo what it sends until it half-closes, or say bye and hang up. */
static void *fake_main(void *arg)
{
	struct pollfd p = {.fd = fk.lfd, .events = POLLIN};
	char buf[512];
	ssize_t n;
	int c;

	(void)arg;
	if (poll(&p, 1, 10000) != 1)
		return NULL;
	c = accept(fk.lfd, NULL, NULL);
	if (c < 0)
		return NULL;
	fcntl(c, F_SETFL, 0);
	if (fk.mode == FAKE_BYE) {
		n = write(c, "bye\n", 4);
		close(c);
		return NULL;
	}
	while ((n = read(c, buf, sizeof(buf))) > 0) {
		if ((size_t)n <= sizeof(fk.got) - fk.got_len) {
			memcpy(fk.got + fk.got_len, buf, (size_t)n);
			fk.got_len += (size_t)n;
		}
		if (write(c, buf, (size_t)n) != n)
			break;
	}
	close(c);
	return NULL;
}

static void fake_start(enum fake_mode mode)
{
	fk.mode = mode;
	ck_assert_int_eq(pthread_create(&fk.thread, NULL, fake_main, NULL), 0);
}

static void setup(void)
{
	char err[256];

	memset(&fk, 0, sizeof(fk));
	snprintf(fk.dir, sizeof(fk.dir), "/tmp/uvctl-con.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fk.dir));
	snprintf(fk.sock, sizeof(fk.sock), "%s/console.sock", fk.dir);
	fk.lfd = unix_listen(fk.sock, 1, err, sizeof(err));
	ck_assert_msg(fk.lfd >= 0, "%s", err);
}

static void teardown(void)
{
	if (fk.lfd >= 0)
		close(fk.lfd);
	unlink(fk.sock);
	rmdir(fk.dir);
}

static size_t read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len && (n = read(fd, buf + got, len - got)) > 0)
		got += (size_t)n;
	return got;
}

START_TEST(piped_input)
{
	static const char msg[] = "hello console\n\x1d binary \x01\xff\n";
	int in[2], out[2], status;
	char err[512], buf[256];

	ck_assert(!pipe(in) && !pipe(out));
	ck_assert_int_eq(write(in[1], msg, sizeof(msg) - 1), (ssize_t)sizeof(msg) - 1);
	close(in[1]);
	fake_start(FAKE_ECHO);
	status = uvctl_console(fk.sock, "vm", in[0], out[1], err, sizeof(err));
	pthread_join(fk.thread, NULL);
	ck_assert_int_eq(status, UVCTL_OK);
	close(out[1]);
	/* Ctrl-] is only the escape on a terminal: here it is data, both ways. */
	ck_assert_uint_eq(fk.got_len, sizeof(msg) - 1);
	ck_assert(!memcmp(fk.got, msg, sizeof(msg) - 1));
	ck_assert_uint_eq(read_all(out[0], buf, sizeof(buf)), sizeof(msg) - 1);
	ck_assert(!memcmp(buf, msg, sizeof(msg) - 1));
	close(in[0]);
	close(out[0]);
}
END_TEST

/* The partition goes away: uvctl ends though its input is still open. */
START_TEST(far_end_closes)
{
	int in[2], out[2], status;
	char err[512], buf[16];

	ck_assert(!pipe(in) && !pipe(out));
	fake_start(FAKE_BYE);
	status = uvctl_console(fk.sock, "vm", in[0], out[1], err, sizeof(err));
	pthread_join(fk.thread, NULL);
	ck_assert_int_eq(status, UVCTL_OK);
	close(out[1]);
	ck_assert_uint_eq(read_all(out[0], buf, sizeof(buf)), 4);
	ck_assert(!memcmp(buf, "bye\n", 4));
	close(in[0]);
	close(in[1]);
	close(out[0]);
}
END_TEST

START_TEST(no_console)
{
	char err[512], path[160];

	snprintf(path, sizeof(path), "%s/missing.sock", fk.dir);
	ck_assert_int_eq(uvctl_console(path, "vm", 0, 1, err, sizeof(err)), UVCTL_REFUSED);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, "is the partition running?"));
}
END_TEST

/* uvmm's own console endpoint (common/console.c), in a thread of its own. */
static struct real {
	struct event_base *base;
	struct console *con;
	char in[256]; /* what the guest would have read */
	size_t in_len;
} rc;

static size_t real_sink(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx;
	if (len > sizeof(rc.in) - rc.in_len)
		len = sizeof(rc.in) - rc.in_len;
	memcpy(rc.in + rc.in_len, buf, len);
	rc.in_len += len;
	return len;
}

/*
 * A late client first gets the recent output; piped input reaches the guest,
 * and its end makes the console drop the client, which ends uvctl.
 */
START_TEST(uvmm_console)
{
	struct console_cfg cfg = {.kind = CONSOLE_UNIX, .path = fk.sock, .name = "test"};
	static const char prompt[] = "\r\nDebian GNU/Linux 12 vm hvc0\r\n\r\nvm login: ";
	int in[2], out[2], status;
	char err[512], buf[256];
	struct loop_thread t;

	close(fk.lfd); /* console_create listens there itself */
	fk.lfd = -1;
	unlink(fk.sock);
	memset(&rc, 0, sizeof(rc));
	rc.base = event_base_new();
	ck_assert_ptr_nonnull(rc.base);
	rc.con = console_create(&cfg, rc.base, err, sizeof(err));
	ck_assert_msg(rc.con, "%s", err);
	console_set_sink(rc.con, real_sink, NULL);
	console_write(rc.con, (const uint8_t *)prompt, sizeof(prompt) - 1);
	loop_thread_start(&t, rc.base);

	ck_assert(!pipe(in) && !pipe(out));
	ck_assert_int_eq(write(in[1], "root\n", 5), 5);
	close(in[1]);
	status = uvctl_console(fk.sock, "vm", in[0], out[1], err, sizeof(err));
	ck_assert_int_eq(status, UVCTL_OK);
	close(out[1]);
	ck_assert_uint_eq(read_all(out[0], buf, sizeof(buf)), sizeof(prompt) - 1);
	ck_assert(!memcmp(buf, prompt, sizeof(prompt) - 1));

	loop_thread_stop(&t);
	ck_assert_uint_eq(rc.in_len, 5);
	ck_assert(!memcmp(rc.in, "root\n", 5));
	console_destroy(rc.con);
	event_base_free(rc.base);
	close(in[0]);
	close(out[0]);
}
END_TEST

/* A pty plays the user's terminal; a thread types once uvctl has made it raw. */
static struct typist {
	int master, slave;
	const char *keys;
	bool send_term;
} ty;

static void *typist_main(void *arg)
{
	struct termios t;

	(void)arg;
	for (int i = 0; i < 1000; i++) {
		if (!tcgetattr(ty.slave, &t) && !(t.c_lflag & ICANON))
			break;
		usleep(5000);
	}
	if (ty.send_term) {
		usleep(50000);
		kill(getpid(), SIGTERM);
	} else if (write(ty.master, ty.keys, strlen(ty.keys)) < 0) {
		return NULL;
	}
	return NULL;
}

static int tty_session(const char *keys, bool send_term, struct termios *before,
		       struct termios *after)
{
	pthread_t typist;
	int out[2], status;
	char err[512];

	ck_assert_int_eq(openpty(&ty.master, &ty.slave, NULL, NULL, NULL), 0);
	ck_assert(!pipe(out));
	ck_assert_int_eq(tcgetattr(ty.slave, before), 0);
	ck_assert(before->c_lflag & ICANON);
	ty.keys = keys;
	ty.send_term = send_term;
	fake_start(FAKE_ECHO);
	ck_assert_int_eq(pthread_create(&typist, NULL, typist_main, NULL), 0);
	status = uvctl_console(fk.sock, "vm", ty.slave, out[1], err, sizeof(err));
	pthread_join(typist, NULL);
	pthread_join(fk.thread, NULL);
	ck_assert_int_eq(tcgetattr(ty.slave, after), 0);
	close(ty.master);
	close(ty.slave);
	close(out[0]);
	close(out[1]);
	return status;
}

static void assert_same_termios(const struct termios *a, const struct termios *b)
{
	ck_assert_uint_eq(a->c_iflag, b->c_iflag);
	ck_assert_uint_eq(a->c_oflag, b->c_oflag);
	ck_assert_uint_eq(a->c_lflag, b->c_lflag);
	ck_assert_uint_eq(a->c_cflag, b->c_cflag);
	ck_assert(!memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc)));
}

START_TEST(tty_detach)
{
	struct termios before, after;

	/* What precedes Ctrl-] reaches the guest; what follows it does not. */
	ck_assert_int_eq(tty_session("ls\r\x03\x1dnot this", false, &before, &after), UVCTL_OK);
	assert_same_termios(&before, &after);
	ck_assert_uint_eq(fk.got_len, 4);
	ck_assert(!memcmp(fk.got, "ls\r\x03", 4));
}
END_TEST

START_TEST(tty_signal)
{
	struct termios before, after;

	ck_assert_int_eq(tty_session(NULL, true, &before, &after), 128 + SIGTERM);
	assert_same_termios(&before, &after);
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite("uvctl_console", setup, teardown, 0,
				     UV_TESTS(piped_input, far_end_closes, no_console, uvmm_console,
					      tty_detach, tty_signal)));
}
