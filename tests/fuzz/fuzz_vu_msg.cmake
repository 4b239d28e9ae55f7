uv_add_fuzzer(fuzz_vu_msg channel/vu_msg.c channel/vu_back.c channel/vu_back_mem.c channel/virtq.c channel/chan_mem.c channel/chan_memfd.c common/log.c)
