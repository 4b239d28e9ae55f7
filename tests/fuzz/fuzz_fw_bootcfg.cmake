uv_add_fuzzer(fuzz_fw_bootcfg guest-firmware/bootcfg.c guest-firmware/extlinux.c)
