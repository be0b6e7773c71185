# Platform layer (linux and host backends, sysfs parsers, energy sensors): the tests build
# fake sysfs trees in mkdtemp directories and run in well under a second each. Label them so
# `ctest -L platform` runs just this area.
#
# platform.c refers to the backend constructors through weak symbols, and a weak reference
# does not pull an object out of a static archive: without the --undefined below, a program
# linked against libdynrt.a gets "backend 'linux' not built" (reported; to be fixed in
# platform.c or in the library link for every program).
foreach(t test_platform_linux test_platform_linux_energy test_platform_host test_sysfs)
  if(TARGET ${t})
    set_tests_properties(${t} PROPERTIES LABELS "platform" TIMEOUT 60)
    target_link_options(${t} PRIVATE "LINKER:--undefined=dynrt__platform_linux_open"
                        "LINKER:--undefined=dynrt__platform_host_open")
  endif()
endforeach()
