// SPDX-License-Identifier: GPL-2.0
/* iopartd's export specs and uvmm's --disk / --net specs. */
#include <errno.h>
#include <string.h>

#include "export.h"
#include "uvcheck.h"

static struct iopart_export e;
static char err[256];

START_TEST(test_export_blk)
{
	ck_assert_int_eq(
		iopart_export_parse("vhost-user-blk,path=/img,socket=/s", &e, err, sizeof(err)), 0);
	ck_assert_int_eq(e.kind, IOPART_BLK);
	ck_assert_str_eq(e.path, "/img");
	ck_assert_str_eq(e.socket, "/s");
	ck_assert(!e.readonly && !e.direct);
	ck_assert_uint_eq(e.num_queues, 1);
	ck_assert_int_eq(iopart_export_parse("vhost-user-blk,socket=/s,path=/i,readonly=on,"
					     "direct=on,num-queues=4,serial=abc",
					     &e, err, sizeof(err)),
			 0);
	ck_assert(e.readonly && e.direct);
	ck_assert_uint_eq(e.num_queues, 4);
	ck_assert_str_eq(e.serial, "abc");
}
END_TEST

START_TEST(test_export_net_rng)
{
	ck_assert_int_eq(iopart_export_parse("vhost-user-net,tap=tap0,socket=/n,mac=52:54:00:"
					     "12:34:56",
					     &e, err, sizeof(err)),
			 0);
	ck_assert_int_eq(e.kind, IOPART_NET);
	ck_assert_str_eq(e.tap, "tap0");
	ck_assert(e.has_mac);
	ck_assert_uint_eq(e.mac[5], 0x56);
	ck_assert_int_eq(iopart_export_parse("vhost-user-rng,socket=/r", &e, err, sizeof(err)), 0);
	ck_assert_int_eq(e.kind, IOPART_RNG);
}
END_TEST

static void bad(const char *spec, const char *needle)
{
	ck_assert_int_eq(iopart_export_parse(spec, &e, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, needle), "'%s': error '%s' does not name '%s'", spec, err,
		      needle);
}

START_TEST(test_export_bad)
{
	bad("vhost-user-scsi,socket=/s", "vhost-user-scsi");
	bad("", "unknown export type");
	bad("vhost-user-blk,path=/i", "socket");
	bad("vhost-user-blk,socket=/s", "path");
	bad("vhost-user-blk,path=/i,socket=/s,readonly=maybe", "readonly");
	bad("vhost-user-blk,path=/i,socket=/s,direct=1", "direct");
	bad("vhost-user-blk,path=/i,socket=/s,num-queues=0", "num-queues");
	bad("vhost-user-blk,path=/i,socket=/s,num-queues=99", "num-queues");
	bad("vhost-user-blk,path=/i,socket=/s,num-queues=x", "num-queues");
	bad("vhost-user-blk,path=/i,socket=/s,serial=123456789012345678901", "serial");
	bad("vhost-user-blk,path=/i,socket=/s,bogus=1", "bogus");
	bad("vhost-user-blk,path=/i,socket=/s,tap=t", "tap");
	bad("vhost-user-blk,path=/i,socket", "socket");
	bad("vhost-user-blk,path=,socket=/s", "path");
	bad("vhost-user-net,socket=/s", "tap");
	bad("vhost-user-net,socket=/s,tap=averyveryverylongtapname", "tap");
	bad("vhost-user-net,socket=/s,tap=t,mac=01:00:00:00:00:01", "mac");
	bad("vhost-user-net,socket=/s,tap=t,mac=52:54:00:12:34", "mac");
	bad("vhost-user-net,socket=/s,tap=t,path=/i", "path");
	bad("vhost-user-rng,socket=/s,readonly=on", "readonly");
	char longsock[200] = "vhost-user-rng,socket=";
	memset(longsock + strlen(longsock), 'x', 150);
	bad(longsock, "socket");
}
END_TEST

START_TEST(test_export_disk)
{
	ck_assert_int_eq(iopart_export_parse_disk("/a/b.img", &e, err, sizeof(err)), 0);
	ck_assert_str_eq(e.path, "/a/b.img");
	ck_assert(!e.readonly);
	ck_assert_int_eq(iopart_export_parse_disk("/a/b.img,readonly=on,num-queues=2,serial=x", &e,
						  err, sizeof(err)),
			 0);
	ck_assert(e.readonly);
	ck_assert_uint_eq(e.num_queues, 2);
	ck_assert_int_eq(iopart_export_parse_disk("/a,socket=/s", &e, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "socket"));
	ck_assert_int_eq(iopart_export_parse_disk("/a,readonly=of", &e, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "readonly"));
	ck_assert_int_eq(iopart_export_parse_disk(",readonly=on", &e, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "path"));
	ck_assert_int_eq(iopart_export_parse_net("tap=tap3", &e, err, sizeof(err)), 0);
	ck_assert_str_eq(e.tap, "tap3");
	ck_assert_int_eq(iopart_export_parse_net("mac=52:54:00:00:00:01", &e, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "tap"));
	iopart_export_init_rng(&e);
	ck_assert_int_eq(e.kind, IOPART_RNG);
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite(
		"iopartd_export", NULL, NULL, 0,
		UV_TESTS(test_export_blk, test_export_net_rng, test_export_bad, test_export_disk)));
}
