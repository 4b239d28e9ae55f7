# uvctl: the command line on opsd's REST API (docs/uvctl.md), included from
# opsd/CMakeLists.txt. Its HTTP goes through libcurl (common/uvhttp.c, shared
# with commandd): libevent 2.1's evhttp client connects only by TCP (unix
# sockets came to it in 2.2).

# Everything but main(), for tests/unit/test_uvctl*.c.
add_library(uvctlcore STATIC
  ${CMAKE_CURRENT_LIST_DIR}/uvctl_args.c
  ${CMAKE_CURRENT_LIST_DIR}/uvctl_console.c
  ${CMAKE_CURRENT_LIST_DIR}/uvctl_fmt.c
  ${CMAKE_CURRENT_LIST_DIR}/uvctl_http.c
  ${CMAKE_CURRENT_LIST_DIR}/uvctl_print.c
  ${CMAKE_CURRENT_LIST_DIR}/uvctl_run.c
  ${CMAKE_CURRENT_LIST_DIR}/uvctl_status.c)
target_include_directories(uvctlcore PUBLIC ${CMAKE_CURRENT_LIST_DIR})
# uvopsd for opsd_name_valid(): one name rule for both ends.
target_link_libraries(uvctlcore PUBLIC uvopsd uvcommon uvhttp PkgConfig::JSONC PkgConfig::LIBEVENT)

add_executable(uvctl ${CMAKE_CURRENT_LIST_DIR}/uvctl.c)
target_link_libraries(uvctl PRIVATE uvctlcore)
target_compile_definitions(uvctl PRIVATE UV_VERSION="${PROJECT_VERSION}")
# Where tests/cli/test-uvctl.sh looks, whichever directory includes this file.
set_target_properties(uvctl PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/opsd)
install(TARGETS uvctl RUNTIME DESTINATION bin)
