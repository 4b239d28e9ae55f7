uv_add_fuzzer(fuzz_qcow2 iopartd/qcow2.c iopartd/qcow2_map.c iopartd/qcow2_write.c)
