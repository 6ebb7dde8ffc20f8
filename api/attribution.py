"""The notices every map, page and export carries (DESIGN.md "What people expect around the map")."""

OGL = "Contains public sector information licensed under the Open Government Licence v3.0."
ONS_OS = ("Source: Office for National Statistics licensed under the Open Government Licence v3.0. "
          "Contains OS data © Crown copyright and database right.")
ODBL_STATIONS = ("Rail station list: davwheat/uk-railway-stations (Trainline EU stations data), available under the "
                 "Open Database Licence (ODbL).")
POLICE = "Crime data: data.police.uk. Locations are anonymised snap points, not addresses."
ATTRIBUTION_TEXT = " ".join([OGL, ONS_OS, ODBL_STATIONS])
KNIFE_NOTE = ("police.uk has no 'knife crime' category: the nearest are Possession of weapons and Violence and "
              "sexual offences.")
SYNTHETIC_NOTE = ("County lines shown here are SYNTHETIC demo data, generated from published aggregate facts; "
                  "they are not real intelligence.")
#: the short form inside the map (the full notices are in every page footer)
MAP_ATTRIBUTION = "Crime: police.uk, OGL v3.0 · Boundaries: ONS, © Crown copyright (OS) · Stations: ODbL"
