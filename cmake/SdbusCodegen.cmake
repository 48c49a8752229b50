# openbits_add_dbus_glue(<target> <stem>=<xml> ...): an INTERFACE library whose users get
# <stem>_adaptor.h and <stem>_proxy.h (under openbits_dbus/), generated from the
# introspection XML in idl/ at build time by sdbus-c++-xml2cpp. The XML is the single source
# of truth for the D-Bus API; the generated headers are never committed.
set(OPENBITS_GENERATED_DIR ${CMAKE_BINARY_DIR}/generated)
file(MAKE_DIRECTORY ${OPENBITS_GENERATED_DIR}/openbits_dbus)

function(openbits_add_dbus_glue target)
  set(outputs)
  foreach(pair IN LISTS ARGN)
    string(REPLACE "=" ";" parts ${pair})
    list(GET parts 0 stem)
    list(GET parts 1 xml)
    set(adaptor ${OPENBITS_GENERATED_DIR}/openbits_dbus/${stem}_adaptor.h)
    set(proxy ${OPENBITS_GENERATED_DIR}/openbits_dbus/${stem}_proxy.h)
    add_custom_command(
      OUTPUT ${adaptor} ${proxy}
      COMMAND SDBusCpp::sdbus-c++-xml2cpp ${xml} --adaptor=${adaptor} --proxy=${proxy}
      DEPENDS ${xml}
      COMMENT "Generating D-Bus glue for ${stem}"
      VERBATIM)
    list(APPEND outputs ${adaptor} ${proxy})
  endforeach()
  add_custom_target(${target}_headers DEPENDS ${outputs})
  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_headers)
  target_include_directories(${target} SYSTEM INTERFACE ${OPENBITS_GENERATED_DIR})
  target_link_libraries(${target} INTERFACE SDBusCpp::sdbus-c++)
endfunction()
