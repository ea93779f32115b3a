# CMake toolchain for the linux-arm64 prebuild, cross-compiled on x86-64 Debian
# with crossbuild-essential-arm64. The arm64 libraries come from Debian's own
# packages installed through multiarch (lib*-dev:arm64): they live in
# /usr/lib/aarch64-linux-gnu beside the x86-64 ones, headers in /usr/include
# (plus /usr/include/aarch64-linux-gnu), so no separate sysroot is needed.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Host tools (node, patchelf) run natively; libraries and headers are searched
# only in the multiarch arm64 directories so an x86-64 one can never be picked.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/include/x86_64-linux-gnu)
# The host pkg-config reads the arm64 .pc files (no aarch64-linux-gnu-pkg-config
# without installing the pkg-config cross wrapper).
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
