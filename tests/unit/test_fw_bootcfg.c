// SPDX-License-Identifier: GPL-2.0
/* The guest firmware's boot entry text parsers: BLS type #1, loader.conf, extlinux. */
#include <stdio.h>
#include <string.h>

#include "bootcfg.h"
#include "uvcheck.h"

static struct fw_boot_entry e;

START_TEST(vercmp_table)
{
	static const struct {
		const char *a, *b;
		int want;
	} t[] = {
		{"6.1.0-10", "6.1.0-9", 1},
		{"1.0", "1.0", 0},
		{"1.0~rc1", "1.0", -1},
		{"1.0", "1.0.1", -1},
		{"1.0-1", "1.0", 1},
		{"1.0a", "1.0", 1},
		{"010", "10", 0},
		{"abc", "abd", -1},
		{"1.2", "1.10", -1},
		{"a", "1", -1},
		{"1.0^git", "1.0", 1},
		{"1.0^git", "1.0.1", -1},
		{"1.0-2", "1.0^x", -1},
		{"fc33", "fc34", -1},
		{"", "", 0},
		{"~", "", -1},
		{"6.1.0-13-amd64", "6.1.0-9-amd64", 1},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_msg(fw_vercmp(t[i].a, t[i].b) == t[i].want, "%s vs %s: %d, want %d",
			      t[i].a, t[i].b, fw_vercmp(t[i].a, t[i].b), t[i].want);
		ck_assert_int_eq(fw_vercmp(t[i].b, t[i].a), -t[i].want);
	}
}
END_TEST

START_TEST(glob_table)
{
	ck_assert(fw_glob("*", "anything"));
	ck_assert(fw_glob("debian-*", "debian-6.1.conf"));
	ck_assert(fw_glob("debian-6.?", "debian-6.1"));
	ck_assert(!fw_glob("debian-6.?", "debian-6.10"));
	ck_assert(fw_glob("[ab]c", "bc"));
	ck_assert(fw_glob("[a-c]x", "bx"));
	ck_assert(!fw_glob("[!a]c", "ac"));
	ck_assert(fw_glob("a*b*c", "axxbyyc"));
	ck_assert(!fw_glob("a*b", "ac"));
	ck_assert(fw_glob("[", "["));
	ck_assert(fw_glob("**x*", "yyxzz"));
	ck_assert(!fw_glob("", "x"));
}
END_TEST

START_TEST(bls_entry)
{
	static const char text[] = "# Debian\r\n"
				   "title   Debian GNU/Linux 12\r\n"
				   "version 6.1.0-13-amd64\n"
				   "linux   /vmlinuz-6.1.0-13-amd64\n"
				   "initrd  /intel-ucode.img\n"
				   "initrd  /initrd.img-6.1.0-13-amd64 /extra.img\n"
				   "options root=UUID=1234 ro\n"
				   "options console=ttyS0\n"
				   "machine-id 0123456789abcdef\n"
				   "\n   \n";

	ck_assert_int_eq(fw_bls_parse(text, strlen(text), "debian", "/boot", &e), 0);
	ck_assert_str_eq(e.id, "debian");
	ck_assert_str_eq(e.title, "Debian GNU/Linux 12");
	ck_assert_str_eq(e.version, "6.1.0-13-amd64");
	ck_assert_str_eq(e.kernel, "/boot/vmlinuz-6.1.0-13-amd64");
	ck_assert_uint_eq(e.n_initrd, 3);
	ck_assert_str_eq(e.initrd[0], "/boot/intel-ucode.img");
	ck_assert_str_eq(e.initrd[1], "/boot/initrd.img-6.1.0-13-amd64");
	ck_assert_str_eq(e.initrd[2], "/boot/extra.img");
	ck_assert_str_eq(e.cmdline, "root=UUID=1234 ro console=ttyS0");
	ck_assert_int_eq(fw_bls_parse(text, strlen(text), "x", "", &e), 0);
	ck_assert_str_eq(e.kernel, "/vmlinuz-6.1.0-13-amd64");
}
END_TEST

START_TEST(bls_refusals)
{
	static const char nolinux[] = "title x\noptions a\n";
	static const char arm[] = "linux /a\narchitecture aa64\n";
	static const char efi[] = "efi /EFI/x.efi\n";
	char big[4096];
	int n;

	ck_assert_int_eq(fw_bls_parse(nolinux, strlen(nolinux), "a", "", &e), FW_E_NOENTRY);
	ck_assert_int_eq(fw_bls_parse(arm, strlen(arm), "a", "", &e), FW_E_NOENTRY);
	ck_assert_int_eq(fw_bls_parse(efi, strlen(efi), "a", "", &e), FW_E_NOENTRY);
	/* Not NUL-terminated, and ending mid-line. */
	ck_assert_int_eq(fw_bls_parse("linux /k\nopt", 10, "a", "", &e), 0);
	ck_assert_str_eq(e.kernel, "/k");
	n = snprintf(big, sizeof(big), "linux /k\noptions ");
	memset(big + n, 'x', sizeof(big) - n);
	ck_assert_int_eq(fw_bls_parse(big, sizeof(big), "a", "", &e), FW_E_NAMETOOLONG);
	memset(big, 0, sizeof(big));
	ck_assert_int_eq(fw_bls_parse(big, sizeof(big), "a", "", &e), FW_E_NOENTRY);
}
END_TEST

START_TEST(bls_ordering)
{
	struct fw_boot_entry a, b;

	ck_assert_int_eq(fw_bls_parse("linux /a\nversion 6.1.0-9\n", 26, "z-old", "", &a), 0);
	ck_assert_int_eq(fw_bls_parse("linux /b\nversion 6.1.0-10\n", 27, "a-new", "", &b), 0);
	ck_assert_int_lt(fw_bls_order(&a, &b), 0);
	/* Without versions, the ids compare as versions. */
	a.version[0] = b.version[0] = 0;
	ck_assert_int_gt(fw_bls_order(&a, &b), 0);
	/* An entry with a sort-key comes before one without. */
	memcpy(b.sort_key, "debian", 7);
	ck_assert_int_lt(fw_bls_order(&a, &b), 0);
}
END_TEST

START_TEST(loader_conf)
{
	static const char text[] =
		"timeout 3\n#default nope\ndefault  debian-*  \nconsole-mode max\n";
	char pat[64];

	ck_assert_int_eq(fw_loader_default(text, strlen(text), pat, sizeof(pat)), 1);
	ck_assert_str_eq(pat, "debian-*");
	ck_assert_int_eq(fw_loader_default("timeout 3\n", 10, pat, sizeof(pat)), 0);
}
END_TEST

static const char extlinux[] = "# generated\n"
			       "UI menu.c32\n"
			       "TIMEOUT 50\n"
			       "APPEND console=ttyS0\n"
			       "DEFAULT second\n"
			       "\n"
			       "LABEL first\n"
			       "  MENU LABEL First kernel\n"
			       "  KERNEL /boot/vmlinuz-1\n"
			       "  APPEND root=/dev/vda1 quiet\n"
			       "label second\n"
			       "  menu label Second kernel\n"
			       "  linux vmlinuz-2\n"
			       "  initrd initrd-2.img,/boot/fw.img\n"
			       "  append root=/dev/vda2\n"
			       "LABEL third\n"
			       "  KERNEL ../vmlinuz-3\n"
			       "  APPEND initrd=/i3.img ro\n";

START_TEST(extlinux_default)
{
	ck_assert_int_eq(fw_extlinux_parse(extlinux, strlen(extlinux), "/boot/extlinux", &e), 0);
	ck_assert_int_eq(e.source, FW_BOOT_EXTLINUX);
	ck_assert_str_eq(e.id, "second");
	ck_assert_str_eq(e.title, "Second kernel");
	ck_assert_str_eq(e.kernel, "/boot/extlinux/vmlinuz-2");
	ck_assert_uint_eq(e.n_initrd, 2);
	ck_assert_str_eq(e.initrd[0], "/boot/extlinux/initrd-2.img");
	ck_assert_str_eq(e.initrd[1], "/boot/fw.img");
	ck_assert_str_eq(e.cmdline, "root=/dev/vda2");
}
END_TEST

START_TEST(extlinux_menu_default_and_fallbacks)
{
	char text[2048];
	size_t n;

	/* MENU DEFAULT after DEFAULT wins. */
	n = (size_t)snprintf(text, sizeof(text), "%s  MENU DEFAULT\n", extlinux);
	ck_assert_int_eq(fw_extlinux_parse(text, n, "/", &e), 0);
	ck_assert_str_eq(e.id, "third");
	ck_assert_str_eq(e.kernel, "/../vmlinuz-3");
	ck_assert_uint_eq(e.n_initrd, 1);
	ck_assert_str_eq(e.initrd[0], "/i3.img");
	ck_assert_str_eq(e.title, "third");
	/* DEFAULT naming no label: the first label. */
	n = (size_t)snprintf(text, sizeof(text), "DEFAULT menu.c32\nLABEL a\nLINUX /k\n");
	ck_assert_int_eq(fw_extlinux_parse(text, n, "/", &e), 0);
	ck_assert_str_eq(e.id, "a");
	/* A global APPEND serves labels without their own. */
	n = (size_t)snprintf(text, sizeof(text), "APPEND ro quiet\nLABEL a\nLINUX /k\n");
	ck_assert_int_eq(fw_extlinux_parse(text, n, "/", &e), 0);
	ck_assert_str_eq(e.cmdline, "ro quiet");
	/* Labels without a kernel are not bootable. */
	n = (size_t)snprintf(text, sizeof(text), "DEFAULT a\nLABEL a\nAPPEND x\n");
	ck_assert_int_eq(fw_extlinux_parse(text, n, "/", &e), FW_E_NOENTRY);
	ck_assert_int_eq(fw_extlinux_parse("", 0, "/", &e), FW_E_NOENTRY);
}
END_TEST

START_TEST(cmdline_merge)
{
	char out[64];

	/* uvmm's words follow the entry's, less uvfw.* and exact repeats. */
	ck_assert_int_eq(fw_cmdline_merge(out, sizeof(out), "root=/dev/vda2 console=ttyS0",
					  "console=ttyS0 uvfw.test=blk panic=-1"),
			 0);
	ck_assert_str_eq(out, "root=/dev/vda2 console=ttyS0 panic=-1");
	/* A different value is not a repeat; a word prefix is not either. */
	ck_assert_int_eq(fw_cmdline_merge(out, sizeof(out), "console=tty0 ro", "console=ttyS0 r"),
			 0);
	ck_assert_str_eq(out, "console=tty0 ro console=ttyS0 r");
	ck_assert_int_eq(fw_cmdline_merge(out, sizeof(out), "", "  a  b "), 0);
	ck_assert_str_eq(out, "a b");
	ck_assert_int_eq(fw_cmdline_merge(out, sizeof(out), "x", ""), 0);
	ck_assert_str_eq(out, "x");
	/* Too long: refused, still terminated. */
	ck_assert_int_eq(fw_cmdline_merge(out, 8, "abc", "defgh"), FW_E_NAMETOOLONG);
	ck_assert_uint_lt(strlen(out), 8);
	ck_assert_int_eq(fw_cmdline_merge(out, 4, "abcd", ""), FW_E_NAMETOOLONG);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(fw_cmdline_merge(out, 9, "abc", "defg"), 0);
	ck_assert_str_eq(out, "abc defg");
}
END_TEST

int main(void)
{
	return uv_check_run(uv_suite("fw_bootcfg", NULL, NULL, 0,
				     UV_TESTS(vercmp_table, glob_table, bls_entry, bls_refusals,
					      bls_ordering, loader_conf, extlinux_default,
					      extlinux_menu_default_and_fallbacks, cmdline_merge)));
}
