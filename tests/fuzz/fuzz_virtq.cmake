uv_add_fuzzer(fuzz_virtq channel/virtq.c channel/chan_mem.c)
