# `cmake --install BUILD`: systemd units, tmpfiles and sysusers snippets, and
# man pages made from each program's --help (help2roff, else help2man).
# Binaries install from their own folders. After installing on a host
# (docs/systemd.md):
#   systemd-sysusers; systemd-tmpfiles --create; systemctl daemon-reload
#   systemctl enable --now ultravisor.target
include(GNUInstallDirs)

set(UV_SYSTEMD_DIR ${CMAKE_CURRENT_LIST_DIR})
set(BINDIR ${CMAKE_INSTALL_FULL_BINDIR})
foreach(unit ultravisord.service iopartd@.service opsd.service commandd.service)
  configure_file(${UV_SYSTEMD_DIR}/${unit}.in ${PROJECT_BINARY_DIR}/systemd/${unit} @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/systemd/${unit} DESTINATION lib/systemd/system)
endforeach()
install(FILES ${UV_SYSTEMD_DIR}/ultravisor.target ${UV_SYSTEMD_DIR}/ultravisor.slice
        DESTINATION lib/systemd/system)
install(FILES ${UV_SYSTEMD_DIR}/ultravisor.tmpfiles DESTINATION lib/tmpfiles.d
        RENAME ultravisor.conf)
install(FILES ${UV_SYSTEMD_DIR}/ultravisor.sysusers DESTINATION lib/sysusers.d
        RENAME ultravisor.conf)

find_program(HELP2MAN help2man REQUIRED)
set(UV_MAN_PAGES
  "uvmm|1|run one guest partition on KVM"
  "uvctl|1|command-line interface to the Ultravisor suite"
  "iopartd|8|Ultravisor I/O partition: vhost-user back ends"
  "ultravisord|8|Ultravisor resource database and channel broker"
  "opsd|8|Ultravisor operations daemon: REST API and desired state"
  "commandd|8|Ultravisor command daemon: reconcile loop and failover")
set(UV_MAN_FILES)
foreach(entry ${UV_MAN_PAGES})
  string(REPLACE "|" ";" f "${entry}")
  list(GET f 0 prog)
  list(GET f 1 sect)
  list(GET f 2 what)
  if(NOT TARGET ${prog})
    continue()
  endif()
  set(out ${PROJECT_BINARY_DIR}/man/${prog}.${sect})
  # help2roff for --help texts laid out as manuals (NAME, SYNOPSIS, ...),
  # which help2man would nest under one DESCRIPTION; help2man for the rest.
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
    COMMAND ${UV_SYSTEMD_DIR}/help2roff $<TARGET_FILE:${prog}> ${sect} ${PROJECT_VERSION} ${out}
            -- ${HELP2MAN} --no-info --no-discard-stderr
            --version-string=${PROJECT_VERSION} --section=${sect}
            --name=${what} --output=${out} $<TARGET_FILE:${prog}>
    DEPENDS ${prog} ${UV_SYSTEMD_DIR}/help2roff
    COMMENT "Man page ${prog}(${sect})")
  list(APPEND UV_MAN_FILES ${out})
  install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${sect})
endforeach()
add_custom_target(man-pages ALL DEPENDS ${UV_MAN_FILES})
