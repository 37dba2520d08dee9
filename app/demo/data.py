"""The demo organisation: Bình Thuận as it was organised in 2021."""

from __future__ import annotations

from datetime import time

from app.auth.models import Role
from app.org.models import StationKind

# (code, name, level, parent code)
UNITS = [
    ("BT", "Tỉnh Bình Thuận", "Tỉnh", None),
    ("BT-PTH", "Thành phố Phan Thiết", "Thành phố", "BT"),
    ("BT-LGI", "Thị xã La Gi", "Thị xã", "BT"),
    ("BT-TPH", "Huyện Tuy Phong", "Huyện", "BT"),
    ("BT-BBI", "Huyện Bắc Bình", "Huyện", "BT"),
    ("BT-HTB", "Huyện Hàm Thuận Bắc", "Huyện", "BT"),
    ("BT-HTN", "Huyện Hàm Thuận Nam", "Huyện", "BT"),
    ("BT-HTA", "Huyện Hàm Tân", "Huyện", "BT"),
    ("BT-TLI", "Huyện Tánh Linh", "Huyện", "BT"),
    ("BT-DLI", "Huyện Đức Linh", "Huyện", "BT"),
    ("BT-PQU", "Huyện Phú Quý", "Huyện", "BT"),
    ("BT-PTH-PTY", "Phường Phú Thủy", "Phường", "BT-PTH"),
    ("BT-PTH-DNG", "Phường Đức Nghĩa", "Phường", "BT-PTH"),
    ("BT-PTH-TLO", "Xã Tiến Lợi", "Xã", "BT-PTH"),
    ("BT-HTB-MLA", "Thị trấn Ma Lâm", "Thị trấn", "BT-HTB"),
    ("BT-HTB-HHI", "Xã Hàm Hiệp", "Xã", "BT-HTB"),
    ("BT-BBI-CLA", "Thị trấn Chợ Lầu", "Thị trấn", "BT-BBI"),
    ("BT-LGI-TTI", "Xã Tân Tiến", "Xã", "BT-LGI"),
]

CULTURE_CENTRES = {
    "BT-LGI": "Trung tâm Văn hóa - Thông tin - Thể thao thị xã La Gi",
    "BT-TPH": "Trung tâm Văn hóa - Thông tin - Thể thao huyện Tuy Phong",
    "BT-BBI": "Trung tâm Văn hóa - Thông tin - Thể thao huyện Bắc Bình",
    "BT-HTB": "Trung tâm Văn hóa - Thông tin - Thể thao huyện Hàm Thuận Bắc",
    "BT-HTN": "Trung tâm Văn hóa - Thông tin - Thể thao huyện Hàm Thuận Nam",
    "BT-HTA": "Trung tâm Văn hóa - Thông tin - Thể thao huyện Hàm Tân",
    "BT-TLI": "Trung tâm Văn hóa - Thông tin - Thể thao huyện Tánh Linh",
    "BT-DLI": "Trung tâm Văn hóa - Thông tin - Thể thao huyện Đức Linh",
    "BT-PQU": "Trung tâm Văn hóa - Thông tin - Thể thao huyện Phú Quý",
}

# (station code, name, kind, unit code, weekdays)
STATIONS = [
    (
        "PTH-RADIO",
        "Đài Truyền thanh thành phố Phan Thiết",
        StationKind.CITY_RADIO,
        "BT-PTH",
        "1234567",
    ),
    *[
        (f"TT-{code[3:]}", name, StationKind.CULTURE_CENTRE, code, "1234567")
        for code, name in CULTURE_CENTRES.items()
    ],
    (
        "TTCS-PTY",
        "Hệ thống truyền thanh phường Phú Thủy",
        StationKind.COMMUNE_LOUDSPEAKER,
        "BT-PTH-PTY",
        "1234567",
    ),
    (
        "TTCS-DNG",
        "Hệ thống truyền thanh phường Đức Nghĩa",
        StationKind.COMMUNE_LOUDSPEAKER,
        "BT-PTH-DNG",
        "123456",
    ),
    (
        "TTCS-TLO",
        "Hệ thống truyền thanh xã Tiến Lợi",
        StationKind.COMMUNE_LOUDSPEAKER,
        "BT-PTH-TLO",
        "1234567",
    ),
    (
        "TTCS-MLA",
        "Hệ thống truyền thanh thị trấn Ma Lâm",
        StationKind.COMMUNE_LOUDSPEAKER,
        "BT-HTB-MLA",
        "1234567",
    ),
    (
        "TTCS-HHI",
        "Hệ thống truyền thanh xã Hàm Hiệp",
        StationKind.COMMUNE_LOUDSPEAKER,
        "BT-HTB-HHI",
        "12345",
    ),
    (
        "TTCS-CLA",
        "Hệ thống truyền thanh thị trấn Chợ Lầu",
        StationKind.COMMUNE_LOUDSPEAKER,
        "BT-BBI-CLA",
        "1234567",
    ),
    (
        "TTCS-TTI",
        "Hệ thống truyền thanh xã Tân Tiến",
        StationKind.COMMUNE_LOUDSPEAKER,
        "BT-LGI-TTI",
        "1234567",
    ),
]

# (name, start, end, cap in minutes)
SESSIONS = [
    ("Buổi sáng", time(5, 30), time(6, 15), 45),
    ("Buổi chiều", time(17, 0), time(17, 45), 45),
]

# (username, full name, role, unit code, password): in README.md; changed at first login.
USERS = [
    ("quantri", "Quản trị hệ thống", Role.ADMIN, "BT", "Loa@BinhThuan-1"),
    ("nguoiduyet", "Nguyễn Thị Duyệt", Role.SUPERVISOR, "BT", "Loa@BinhThuan-2"),
    ("bientap", "Trần Văn Biên", Role.WRITER, "BT-PTH", "Loa@BinhThuan-3"),
    ("vanhanh", "Lê Văn Hành", Role.OPERATOR, "BT-PTH", "Loa@BinhThuan-4"),
]

# Scripts the demo writer renders and submits and the supervisor approves: the seed campaign
# in schedules/ airs them.
APPROVED_KEYS = ["tiem-vac-xin-khi-den-luot", "theo-doi-phan-ung-sau-tiem"]
# Scripts the demo writer sends for review, so the supervisor's queue is not empty.
SUBMITTED_KEYS = ["cai-dat-so-suc-khoe-dien-tu", "nguyen-tac-5k"]

# Who imports schedules/*.yaml: the province's supervisor, whose unit holds every demo station.
SCHEDULE_IMPORTER = "nguoiduyet"
# The trial airing on the first day: the city's operator airs the shortest approved script on
# the city's stations every few minutes for a while, starting minutes after the load and
# keeping clear of the sessions, so a newcomer sees spots air and the log fill at any hour.
TRIAL_OPERATOR = "vanhanh"
TRIAL_UNIT = "BT-PTH"
TRIAL_KEY = "phat-thu"
TRIAL_EVERY_MINUTES = 10
TRIAL_HOURS = 2
TRIAL_LEAD_MINUTES = 3

# Shared lexicon entries for the codes of the seed dispatch that the built-in list lacks.
LEXICON = [
    ("TBTTTT", "Tiểu ban Thông tin tuyên truyền", "Công văn 855/BCĐ-TBTTTT"),
    ("TTBCXB", "Thông tin, Báo chí, Xuất bản", "Phòng Thông tin, Báo chí, Xuất bản"),
    ("TT VÀ TT", "Thông tin và Truyền thông", "Sở TT VÀ TT, chữ in hoa trong chữ ký"),
]
