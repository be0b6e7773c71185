# toolchain-aarch64.cmake - cross build for 64-bit ARM Linux (Jetson, Raspberry Pi 4 with a
# 64-bit OS, Odroid-N2/C4, phones under a Linux userland) from a Debian/Ubuntu x86-64 host.
#
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
#
# Needs the cross compiler (gcc-aarch64-linux-gnu) and the arm64 libraries through Debian
# multiarch (dpkg --add-architecture arm64; libcjson-dev:arm64 libcmocka-dev:arm64), which
# land in /usr/lib/aarch64-linux-gnu next to the host's own. scripts/test-aarch64 installs
# them. With qemu-user installed, ctest runs every test program under qemu-aarch64.
#
# Cache variables: DYNRT_AARCH64_TRIPLE (default aarch64-linux-gnu), DYNRT_AARCH64_SYSROOT
# (default empty: multiarch paths of the host), DYNRT_AARCH64_EMULATOR (default
# qemu-aarch64 found on PATH; set it empty to build without an emulator).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(DYNRT_AARCH64_TRIPLE aarch64-linux-gnu CACHE STRING "GNU triple of the cross compiler")
set(DYNRT_AARCH64_SYSROOT "" CACHE PATH "Sysroot of the target (empty: host multiarch)")
set(_triple ${DYNRT_AARCH64_TRIPLE})

find_program(_cc NAMES ${_triple}-gcc ${_triple}-gcc-12 NO_CACHE)
if(NOT _cc)
  message(FATAL_ERROR "${_triple}-gcc not found: apt-get install gcc-aarch64-linux-gnu "
                      "(or run scripts/test-aarch64, which installs it)")
endif()
set(CMAKE_C_COMPILER ${_cc})

if(DYNRT_AARCH64_SYSROOT)
  # A board's root file system (e.g. copied from a Jetson): everything comes from there.
  set(CMAKE_SYSROOT ${DYNRT_AARCH64_SYSROOT})
  set(_libdirs ${DYNRT_AARCH64_SYSROOT}/usr/lib/${_triple}/pkgconfig
               ${DYNRT_AARCH64_SYSROOT}/usr/lib/pkgconfig
               ${DYNRT_AARCH64_SYSROOT}/usr/share/pkgconfig)
  set(ENV{PKG_CONFIG_SYSROOT_DIR} ${DYNRT_AARCH64_SYSROOT})
  set(_qemu_prefix ${DYNRT_AARCH64_SYSROOT})
else()
  # Debian multiarch: arm64 libraries and .pc files in /usr/lib/aarch64-linux-gnu, headers
  # shared in /usr/include (architecture-specific ones in /usr/include/aarch64-linux-gnu).
  set(_libdirs /usr/lib/${_triple}/pkgconfig /usr/share/pkgconfig)
  list(APPEND CMAKE_LIBRARY_PATH /usr/lib/${_triple} /lib/${_triple})
  # The emulator must take the loader and libc from one glibc build: ld.so and libc.so.6
  # share private data (_rtld_global) whose layout changes between Debian revisions. The
  # cross package's loader in /usr/${_triple}/lib would find, through the host's
  # /etc/ld.so.cache, the multiarch libc6:arm64 (a dependency of libcjson1:arm64) of another
  # revision, and pthread_create then loops forever on the stack cache list. So with a
  # multiarch libc present, run everything from it: its loader is /lib/ld-linux-aarch64.so.1
  # on the host ("-L /"). The binaries link against the cross libc, which is never newer.
  if(EXISTS /usr/lib/${_triple}/libc.so.6 AND EXISTS /lib/ld-linux-aarch64.so.1)
    set(_qemu_prefix /)
  else()
    set(_qemu_prefix /usr/${_triple})
  endif()
endif()

# Only the target's .pc files: the host's /usr/lib/x86_64-linux-gnu/pkgconfig must not be
# searched. ENV settings in a toolchain file apply to every (re)configure, as the toolchain
# file is read on each one.
list(JOIN _libdirs ":" _pkg_libdir)
set(ENV{PKG_CONFIG_LIBDIR} ${_pkg_libdir})
set(ENV{PKG_CONFIG_PATH} "")
find_program(_pkgconf NAMES ${_triple}-pkg-config NO_CACHE)
if(_pkgconf)
  set(PKG_CONFIG_EXECUTABLE ${_pkgconf} CACHE FILEPATH "pkg-config for the target")
endif()

# Programs (compilers, python, sh) come from the host; libraries, headers and packages only
# from the target's locations.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
if(NOT DYNRT_AARCH64_SYSROOT)
  # Multiarch: "ONLY" searches under the root path, which is the host root here; library
  # names are kept to the aarch64 folders by CMAKE_LIBRARY_ARCHITECTURE.
  set(CMAKE_FIND_ROOT_PATH /)
  set(CMAKE_LIBRARY_ARCHITECTURE ${_triple})
endif()

# ctest (and try_run) run target programs through the emulator. -L gives qemu the prefix
# of the target's loader and libc: the sysroot, the multiarch root "/" (see above) or the
# cross libc's folder. DYNRT_EMULATED=1 in the program's environment tells the tests that
# measure the process itself (resident set: the emulator's own memory is in it) to skip that.
find_program(_qemu NAMES qemu-aarch64 qemu-aarch64-static NO_CACHE)
set(DYNRT_AARCH64_EMULATOR "${_qemu}" CACHE STRING "Emulator for target programs (empty: none)")
if(DYNRT_AARCH64_EMULATOR)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${DYNRT_AARCH64_EMULATOR} -L ${_qemu_prefix}
      -E DYNRT_EMULATED=1)
endif()
