# Debian packages with CPack (`cpack -G DEB` in the build directory):
#   tokenauth-server  the server and the CLI, the systemd unit, /etc/default/tokenauth (a
#                     conffile), man pages made from --help by help2man; Depends: from the
#                     libraries the binaries link (dpkg-shlibdeps)
#   libtokenauth-dev  the headers, the CMake package and the pkg-config files (architecture all)
include(GNUInstallDirs)

install(TARGETS tokenauth-server tokenauth-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
install(FILES packaging/tokenauth.service DESTINATION lib/systemd/system COMPONENT server)
install(FILES packaging/tokenauth.default DESTINATION /etc/default RENAME tokenauth COMPONENT server)

# Man pages from each program's --help and --version (HOME=~ so that defaults read "~/...").
find_program(HELP2MAN help2man)
find_program(GZIP gzip)
if(HELP2MAN AND GZIP)
    set(man_pages)
    set(tokenauth-server_summary "access-token server with a Qumulo-compatible REST API")
    set(tokenauth-cli_summary "qq-compatible command-line client for tokenauth-server")
    foreach(program tokenauth-server tokenauth-cli)
        set(page ${CMAKE_CURRENT_BINARY_DIR}/man/${program}.1.gz)
        add_custom_command(
            OUTPUT ${page}
            COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/man
            COMMAND ${CMAKE_COMMAND} -E env HOME=~ ${HELP2MAN} --no-info --no-discard-stderr
                    --name=${${program}_summary} --output=${CMAKE_CURRENT_BINARY_DIR}/man/${program}.1 $<TARGET_FILE:${program}>
            COMMAND ${GZIP} -9nf ${CMAKE_CURRENT_BINARY_DIR}/man/${program}.1
            DEPENDS ${program}
            COMMENT "Man page for ${program} (help2man)")
        list(APPEND man_pages ${page})
    endforeach()
    add_custom_target(man-pages ALL DEPENDS ${man_pages})
    install(FILES ${man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT server)
else()
    message(STATUS "tokenauth: help2man not found; no man pages, and the package has none (Debian: help2man)")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tokenauth)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "")  # each package's own first description line is its summary
set(CPACK_PACKAGE_VENDOR "tokenauth")
set(CPACK_PACKAGE_CONTACT "tokenauth maintainers <tokenauth@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # the build's debug info stays in the build tree
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME tokenauth-server)
set(CPACK_DEBIAN_SERVER_PACKAGE_SECTION net)
set(CPACK_DEBIAN_SERVER_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_SERVER_DESCRIPTION "access-token server with a Qumulo-compatible REST API
tokenauth-server issues, lists, disables and revokes long-lived access tokens and
password session tokens over HTTPS, with a web UI and SQLite or PostgreSQL storage.
tokenauth-cli has the same commands as Qumulo's qq.")
configure_file(packaging/conffiles.in ${CMAKE_CURRENT_BINARY_DIR}/packaging/server/conffiles @ONLY)
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_BINARY_DIR}/packaging/server/conffiles)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libtokenauth-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_ARCHITECTURE all)
# Header-only: what its headers include and its CMake and pkg-config files name.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libsodium-dev (>= 1.0.18)")
set(CPACK_DEBIAN_DEV_PACKAGE_SUGGESTS "libpq-dev")
set(CPACK_DEBIAN_DEV_DESCRIPTION "header-only C++17 library for tokenauth access tokens
Strict token parsing, constant-time verification of hashed secrets (libsodium),
sessions, privileges and roles, a validator from Authorization header to principal,
and a PostgreSQL replica of a tokenauth-server's tokens (with libpq).")
include(CPack)
