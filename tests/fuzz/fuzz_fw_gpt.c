// SPDX-License-Identifier: GPL-2.0
/*
 * The guest firmware's GPT/MBR parser on a hostile disk (the input, in
 * 512-byte blocks); then the whole boot search over the partitions found.
 */
#include "fuzz_fw_disk.h"
#include "part.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fw_part parts[FW_MAX_PARTS];
	struct fuzz_disk d;
	enum fw_table table;
	const char *why = NULL;
	int n;

	fuzz_disk_init(&d, data, size);
	n = fw_part_scan(&d.disk, parts, FW_MAX_PARTS, &table, &why);
	if (n == FW_E_CORRUPT && !why)
		abort();
	for (int i = 0; i < n; i++)
		if (!parts[i].blocks || parts[i].start_lba >= d.disk.blocks ||
		    parts[i].blocks > d.disk.blocks - parts[i].start_lba)
			abort();
	fuzz_find_boot(&d.disk);
	return 0;
}
