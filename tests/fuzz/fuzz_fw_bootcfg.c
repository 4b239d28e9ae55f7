// SPDX-License-Identifier: GPL-2.0
/*
 * The guest firmware's boot entry text parsers. The first byte picks one:
 * 'B' a BLS entry, 'E' extlinux.conf, 'L' loader.conf; 'V' and 'G' split
 * the rest at its first NUL into two strings for fw_vercmp / fw_glob.
 * The text is copied to an exact-size heap buffer so ASan sees overreads.
 */
#include <stdlib.h>
#include <string.h>

#include "bootcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_entry(const struct fw_boot_entry *e)
{
	if (strlen(e->kernel) >= sizeof(e->kernel) || e->n_initrd > FW_MAX_INITRD ||
	    strlen(e->cmdline) >= sizeof(e->cmdline) || e->kernel[0] != '/')
		abort();
	for (unsigned i = 0; i < e->n_initrd; i++)
		if (e->initrd[i][0] != '/')
			abort();
}

static void two_strings(const char *t, size_t n, int glob)
{
	const char *nul = memchr(t, 0, n);
	char *a, *b;
	int r1, r2;

	if (!nul)
		return;
	a = strndup(t, (size_t)(nul - t));
	b = strndup(nul + 1, n - (size_t)(nul - t) - 1);
	if (glob) {
		fw_glob(a, b);
	} else {
		r1 = fw_vercmp(a, b);
		r2 = fw_vercmp(b, a);
		if (r1 != -r2 || fw_vercmp(a, a) != 0)
			abort(); /* an order must be antisymmetric */
	}
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fw_boot_entry e;
	char pat[FW_ID_MAX];
	char *t;

	if (!size)
		return 0;
	t = malloc(size - 1 ? size - 1 : 1);
	memcpy(t, data + 1, size - 1);
	switch (data[0]) {
	case 'B':
		if (!fw_bls_parse(t, size - 1, "fuzz", "/boot", &e))
			check_entry(&e);
		break;
	case 'E':
		if (!fw_extlinux_parse(t, size - 1, "/boot/extlinux", &e))
			check_entry(&e);
		break;
	case 'L':
		if (fw_loader_default(t, size - 1, pat, sizeof(pat)) == 1 &&
		    strlen(pat) >= sizeof(pat))
			abort();
		break;
	case 'V':
	case 'G':
		two_strings(t, size - 1, data[0] == 'G');
		break;
	}
	free(t);
	return 0;
}
