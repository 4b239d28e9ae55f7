// SPDX-License-Identifier: GPL-2.0
/* The guest firmware's FAT reader on a hostile volume (the input), then the boot search. */
#include "fuzz_fw_disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_fs_one(data, size, FW_FS_FAT);
	return 0;
}
