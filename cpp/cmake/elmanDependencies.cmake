# What elman::elman needs, found the same way by elman's own build (CMakeLists.txt) and by its installed
# elmanConfig.cmake, which includes this file from next to itself: Eigen 3.4 and nlohmann_json 3.11 or later.
#
# Both also come as Python wheels from PyPI (cmeel-eigen, nlohmann-json), which install under
# site-packages where CMake does not look by itself: for every entry of CMAKE_PREFIX_PATH, Eigen is also
# looked for under <entry>/cmeel.prefix and nlohmann/json.hpp under <entry>/nlohmann_json/include (the
# nlohmann-json wheel ships the headers without a CMake package). System installs are found as usual.

set(_elman_cmeel_prefixes)
set(_elman_json_hints)
foreach(_elman_prefix IN LISTS CMAKE_PREFIX_PATH)
  if(EXISTS "${_elman_prefix}/cmeel.prefix")
    list(APPEND _elman_cmeel_prefixes "${_elman_prefix}/cmeel.prefix")
  endif()
  list(APPEND _elman_json_hints "${_elman_prefix}/nlohmann_json/include")
endforeach()

find_package(Eigen3 3.4 REQUIRED NO_MODULE PATHS ${_elman_cmeel_prefixes})

find_package(nlohmann_json 3.11 CONFIG QUIET)
if(NOT nlohmann_json_FOUND AND NOT TARGET nlohmann_json::nlohmann_json)
  find_path(ELMAN_NLOHMANN_JSON_INCLUDE_DIR nlohmann/json.hpp HINTS ${_elman_json_hints})
  set(_elman_json_version "")
  foreach(_elman_file IN ITEMS nlohmann/detail/abi_macros.hpp nlohmann/json.hpp)
    if(ELMAN_NLOHMANN_JSON_INCLUDE_DIR AND EXISTS "${ELMAN_NLOHMANN_JSON_INCLUDE_DIR}/${_elman_file}"
       AND _elman_json_version STREQUAL "")
      file(STRINGS "${ELMAN_NLOHMANN_JSON_INCLUDE_DIR}/${_elman_file}" _elman_lines
           REGEX "#define NLOHMANN_JSON_VERSION_(MAJOR|MINOR|PATCH) [0-9]+")
      if(_elman_lines MATCHES "MAJOR ([0-9]+).*MINOR ([0-9]+).*PATCH ([0-9]+)")
        set(_elman_json_version "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}.${CMAKE_MATCH_3}")
      endif()
    endif()
  endforeach()
  if(_elman_json_version STREQUAL "" OR _elman_json_version VERSION_LESS 3.11)
    message(FATAL_ERROR
      "elman needs nlohmann_json 3.11 or later (found: '${_elman_json_version}' in "
      "'${ELMAN_NLOHMANN_JSON_INCLUDE_DIR}'). Install it with `pip install nlohmann-json` and put that "
      "Python's site-packages in CMAKE_PREFIX_PATH, or with your system's package (nlohmann-json3-dev).")
  endif()
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  set_target_properties(nlohmann_json::nlohmann_json PROPERTIES
                        INTERFACE_INCLUDE_DIRECTORIES "${ELMAN_NLOHMANN_JSON_INCLUDE_DIR}")
  message(STATUS "elman: nlohmann_json ${_elman_json_version} headers in ${ELMAN_NLOHMANN_JSON_INCLUDE_DIR}")
endif()

unset(_elman_prefix)
unset(_elman_file)
unset(_elman_lines)
unset(_elman_cmeel_prefixes)
unset(_elman_json_hints)
unset(_elman_json_version)
