"""Script desk benchmark: seed a realistic database, then time the list, search and script pages.

Usage:
    .venv/bin/python bench/web.py [--scripts 10000] [--versions-per-script 5] [--requests 200]
                                  [--database-url URL]

Without --database-url the run uses a fresh SQLite file in a temporary folder (never instance/);
TEST_DATABASE_URL, when set, is benchmarked as well. A PostgreSQL database is wiped first, so its
name must contain "bench" or "test". Seeding uses bulk Core inserts, not the service layer; the
requests go through the Flask test client as a supervisor of the province, who sees every script.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from markupsafe import escape  # noqa: E402
from sqlalchemy import bindparam, event, insert, select, text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app import create_app  # noqa: E402
from app.auth.models import Role, User  # noqa: E402
from app.auth.service import create_token, hash_password  # noqa: E402
from app.core.text import fold, nfc  # noqa: E402
from app.extensions import db  # noqa: E402
from app.org.models import Unit  # noqa: E402
from app.scripts.models import (  # noqa: E402
    Decision,
    Priority,
    Script,
    ScriptReview,
    ScriptStatus,
    ScriptVersion,
    script_targets,
)
from bench.machine import add_database_url, markdown_table  # noqa: E402
from bench.machine import machine_info as base_machine_info  # noqa: E402

TARGET_P95_MS = 100.0
PASSWORD = "bench-password-2026"
SUPERVISOR = "supervisor"
NOW = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
PER_PAGE = 20
CHUNK = 1000
MIN_BODY, MAX_BODY = 1500, 3000
COMMON_QUERY = "tiem chung"
RARE_QUERY = "ngo doc ca noc"

# Bình Thuận's districts, as in the demo data: (code suffix, name, level).
DISTRICTS = [
    ("PTH", "Thành phố Phan Thiết", "Thành phố"),
    ("LGI", "Thị xã La Gi", "Thị xã"),
    ("TPH", "Huyện Tuy Phong", "Huyện"),
    ("BBI", "Huyện Bắc Bình", "Huyện"),
    ("HTB", "Huyện Hàm Thuận Bắc", "Huyện"),
    ("HTN", "Huyện Hàm Thuận Nam", "Huyện"),
    ("HTA", "Huyện Hàm Tân", "Huyện"),
    ("TLI", "Huyện Tánh Linh", "Huyện"),
    ("DLI", "Huyện Đức Linh", "Huyện"),
    ("PQU", "Huyện Phú Quý", "Huyện"),
]
COMMUNE_STEMS = [
    "Phú Thủy", "Đức Nghĩa", "Tiến Lợi", "Hàm Hiệp", "Ma Lâm", "Chợ Lầu", "Tân Tiến", "Hàm Mỹ",
    "Thuận Quý", "Tân Thành", "Hòa Thắng", "Phan Rí Thành", "Liên Hương", "Vĩnh Hảo",
    "Chí Công", "Bình Thạnh", "Hồng Sơn", "Hàm Chính", "Mương Mán", "Tân Lập", "Sơn Mỹ",
    "Tân Phước", "Bình Tân", "Lạc Tánh", "Gia An", "Đức Tài", "Võ Xu", "Nam Chính", "Tam Thanh",
    "Ngũ Phụng", "Long Hải", "Phước Thể", "Hải Ninh", "Sông Lũy", "Phan Hiệp", "Hồng Thái",
]  # fmt: skip

OPENINGS = [
    "Thưa toàn thể bà con nhân dân!",
    "Kính thưa bà con cô bác trong toàn {noi}!",
    "Thưa bà con, Đài truyền thanh {noi} xin gửi đến bà con thông báo quan trọng sau đây.",
]
CLOSINGS = [
    "Đài truyền thanh {noi} xin thông báo để bà con được biết và thực hiện.",
    "Mọi thắc mắc xin bà con liên hệ Ủy ban nhân dân {noi} hoặc gọi đường dây nóng {sdt}.",
    "Rất mong bà con quan tâm, hưởng ứng và chia sẻ thông tin này với người thân, hàng xóm.",
]
GENERAL = [
    "Ủy ban nhân dân {noi} đề nghị các tổ trưởng khu phố, trưởng thôn thông báo rộng rãi đến "
    "từng hộ gia đình.",
    "Các đoàn thể chính trị - xã hội phối hợp vận động hội viên, đoàn viên gương mẫu thực hiện.",
    "Thông tin chi tiết được niêm yết công khai tại trụ sở Ủy ban nhân dân {noi} và nhà văn hóa "
    "các thôn, khu phố.",
    "Bà con lưu ý theo dõi các bản tin tiếp theo trên hệ thống loa truyền thanh để cập nhật "
    "thông tin mới nhất.",
    "Cán bộ thôn, khu phố sẽ đến từng nhà để hướng dẫn bà con, đặc biệt là người cao tuổi và "
    "người khuyết tật.",
    "Việc thực hiện nghiêm túc các nội dung trên góp phần giữ vững an ninh trật tự và ổn định "
    "đời sống nhân dân trên địa bàn.",
    "Thời gian thực hiện từ ngày {ngay} đến hết ngày {ngay2}.",
    "Kết quả thực hiện sẽ được tổng hợp, báo cáo Ủy ban nhân dân cấp trên trước ngày {ngay2}.",
    "Mặt trận Tổ quốc và Hội Liên hiệp Phụ nữ {noi} tổ chức tuyên truyền lồng ghép trong các "
    "buổi sinh hoạt khu dân cư.",
    "Trường học trên địa bàn phổ biến nội dung này đến học sinh và phụ huynh trong buổi chào "
    "cờ đầu tuần.",
    "Trưởng thôn, khu phố có trách nhiệm nắm tình hình và báo cáo kịp thời những khó khăn, "
    "vướng mắc phát sinh.",
    "Đề nghị các hộ kinh doanh, nhà hàng, khách sạn niêm yết thông báo này ở nơi dễ thấy.",
    "Bản tin này sẽ được phát lại vào lúc {gio} sáng và 17 giờ chiều hằng ngày trong tuần.",
    "Lực lượng Công an, Quân sự và các đoàn thể sẵn sàng hỗ trợ bà con khi cần thiết.",
]
RARE_SENTENCE = (
    "Thời gian gần đây đã xảy ra trường hợp ngộ độc cá nóc; bà con tuyệt đối không ăn, không chế "
    "biến và không buôn bán cá nóc dưới mọi hình thức."
)


@dataclass
class Topic:
    """A subject of radio scripts: its campaigns, category, titles and sentence pool."""

    weight: int
    category: str
    campaigns: list[str]
    titles: list[str]
    sentences: list[str]


TOPICS = [
    Topic(
        16,
        "Y tế - phòng chống dịch",
        ["Tiêm chủng COVID-19 đợt 6", "Tiêm chủng mở rộng năm 2026", "Tiêm vắc xin sởi - rubella"],
        [
            "Kêu gọi người dân đi tiêm vắc xin khi đến lượt",
            "Lịch tiêm chủng mở rộng tháng {thang} tại {noi}",
            "Thông báo tiêm bù vắc xin sởi - rubella cho trẻ em",
            "Theo dõi sức khỏe sau tiêm chủng",
        ],
        [
            "Hiện nay, ngành y tế đang triển khai chiến dịch tiêm chủng cho người dân trên địa "
            "bàn {noi}.",
            "Tiêm chủng vắc xin là quyền lợi đối với cá nhân, là trách nhiệm đối với cộng đồng.",
            "Khi đi tiêm, bà con nhớ mang theo căn cước công dân và sổ tiêm chủng của trẻ.",
            "Điểm tiêm đặt tại trạm y tế {noi}, làm việc từ {gio} sáng đến 16 giờ 30 chiều các "
            "ngày trong tuần.",
            "Sau khi tiêm, bà con ở lại điểm tiêm 30 phút để nhân viên y tế theo dõi phản ứng "
            "sau tiêm.",
            "Nếu có biểu hiện sốt cao trên 39°C, khó thở hoặc nổi ban, bà con cần đến ngay cơ sở "
            "y tế gần nhất.",
            "Trẻ em từ 9 tháng đến 5 tuổi chưa tiêm đủ mũi vắc xin sởi - rubella cần được đưa đi "
            "tiêm bù.",
            "Vắc xin tốt nhất là vắc xin được tiêm sớm nhất; bà con không nên chờ đợi, lựa chọn "
            "loại vắc xin.",
            "Tổ tiêm chủng lưu động sẽ đến tận nhà để tiêm cho người cao tuổi, người không thể tự "
            "đi lại.",
            "Bà con khai báo trung thực tình trạng sức khỏe, tiền sử dị ứng để được khám sàng lọc "
            "trước khi tiêm.",
        ],
    ),
    Topic(
        8,
        "Y tế - phòng chống dịch",
        ["Phòng chống sốt xuất huyết 2025", "Phòng chống sốt xuất huyết 2026"],
        [
            "Chủ động phòng chống sốt xuất huyết mùa mưa",
            "Chiến dịch diệt lăng quăng, bọ gậy tại {noi}",
            "Thông báo phun hóa chất diệt muỗi ngày {ngay}",
        ],
        [
            "Hiện nay đang là mùa mưa, điều kiện thuận lợi cho muỗi vằn sinh sản và truyền bệnh "
            "sốt xuất huyết.",
            "Từ đầu năm đến nay, toàn {noi} ghi nhận {so} ca mắc sốt xuất huyết, tăng so với "
            "cùng kỳ năm trước.",
            "Mỗi gia đình hãy dành 15 phút mỗi tuần để diệt lăng quăng, bọ gậy, úp ngược các "
            "dụng cụ chứa nước không dùng đến.",
            "Bà con thả cá bảy màu vào lu, khạp chứa nước và đậy kín các dụng cụ chứa nước sinh "
            "hoạt.",
            "Ngủ mùng kể cả ban ngày, mặc quần áo dài tay để phòng muỗi đốt.",
            "Khi sốt cao đột ngột, đau đầu, đau nhức cơ hoặc xuất huyết dưới da, bà con phải đến "
            "cơ sở y tế để được khám, không tự ý điều trị tại nhà.",
            "Ngành y tế sẽ phun hóa chất diệt muỗi tại các khu vực có ổ dịch vào ngày {ngay}; "
            "bà con mở cửa để tổ phun thực hiện.",
        ],
    ),
    Topic(
        10,
        "An toàn giao thông",
        ["An toàn giao thông năm 2026", "Tháng cao điểm an toàn giao thông"],
        [
            "Đội mũ bảo hiểm đạt chuẩn khi đi xe máy",
            "Đã uống rượu bia thì không lái xe",
            "Không giao xe cho con em chưa đủ tuổi",
            "Tình hình tai nạn giao thông tháng {thang} tại {noi}",
        ],
        [
            "Trong thời gian qua, trên địa bàn {noi} đã xảy ra {so} vụ tai nạn giao thông, làm "
            "chết và bị thương nhiều người.",
            "Người điều khiển mô tô, xe gắn máy và người ngồi sau phải đội mũ bảo hiểm đạt "
            "chuẩn, cài quai đúng quy cách.",
            "Đã uống rượu bia thì không lái xe; mức phạt đối với vi phạm nồng độ cồn hiện nay "
            "rất nặng.",
            "Phụ huynh không giao xe máy cho con em chưa đủ tuổi, chưa có giấy phép lái xe điều "
            "khiển.",
            "Không phơi nông sản, họp chợ, để vật liệu xây dựng lấn chiếm lòng đường, lề đường "
            "quốc lộ 1A.",
            "Lực lượng Cảnh sát giao thông sẽ tăng cường tuần tra, kiểm soát và xử lý nghiêm các "
            "trường hợp vi phạm.",
            "Khi tham gia giao thông, bà con chấp hành nghiêm tín hiệu đèn, biển báo và đi đúng "
            "phần đường, làn đường quy định.",
        ],
    ),
    Topic(
        8,
        "An ninh - trật tự",
        ["Phòng cháy chữa cháy mùa khô 2026", "Phòng cháy chữa cháy rừng"],
        [
            "Cảnh báo nguy cơ cháy rừng cấp {so}",
            "Phòng cháy chữa cháy trong khu dân cư",
            "Hướng dẫn xử lý khi xảy ra cháy nhà",
        ],
        [
            "Mùa khô năm nay nắng nóng kéo dài, nguy cơ cháy rừng ở mức cấp {so}, cấp nguy hiểm.",
            "Bà con không đốt thực bì, đốt rác, đốt ong gần bìa rừng; khi đốt nương rẫy phải báo "
            "cho kiểm lâm địa bàn.",
            "Mỗi hộ gia đình nên trang bị bình chữa cháy và kiểm tra hệ thống điện trong nhà, "
            "không câu móc điện tùy tiện.",
            "Không để xăng dầu, bình gas gần nguồn lửa; tắt các thiết bị điện khi ra khỏi nhà.",
            "Khi phát hiện cháy, bà con gọi ngay số 114 và báo cho chính quyền địa phương gần "
            "nhất.",
            "Các cơ sở kinh doanh, nhà xưởng phải có phương án phòng cháy chữa cháy và cứu nạn "
            "cứu hộ được phê duyệt.",
        ],
    ),
    Topic(
        7,
        "Phòng chống thiên tai",
        ["Phòng chống bão lũ 2025", "Phòng chống thiên tai 2026"],
        [
            "Khẩn cấp: ứng phó áp thấp nhiệt đới trên Biển Đông",
            "Chủ động phòng tránh mưa lũ, sạt lở đất",
            "Thông báo cấm biển từ {gio} ngày {ngay}",
        ],
        [
            "Theo Trung tâm Dự báo khí tượng thủy văn quốc gia, áp thấp nhiệt đới trên Biển Đông "
            "có khả năng mạnh lên thành bão.",
            "Các chủ phương tiện tàu thuyền đang hoạt động trên biển khẩn trương di chuyển vào "
            "nơi tránh trú an toàn.",
            "Bà con sống ở vùng trũng thấp, ven sông, ven biển chuẩn bị sẵn sàng di dời đến nơi "
            "an toàn khi có lệnh.",
            "Gia đình cần chằng chống nhà cửa, dự trữ lương thực, nước uống, thuốc men, đèn pin "
            "cho ít nhất ba ngày.",
            "Tuyệt đối không ra biển, không đánh bắt hải sản, không vớt củi trên sông khi có mưa "
            "lũ.",
            "Ban Chỉ huy phòng chống thiên tai và tìm kiếm cứu nạn {noi} trực 24/24 giờ, số điện "
            "thoại {sdt}.",
        ],
    ),
    Topic(
        6,
        "Chính trị - xã hội",
        ["Bầu cử đại biểu Quốc hội khóa XVI"],
        [
            "Ngày hội non sông: cử tri đi bầu cử",
            "Niêm yết danh sách cử tri tại {noi}",
            "Hướng dẫn cử tri thực hiện quyền bầu cử",
        ],
        [
            "Ngày {ngay}, cử tri cả nước đi bầu cử đại biểu Quốc hội và đại biểu Hội đồng nhân "
            "dân các cấp.",
            "Mỗi cử tri có quyền bỏ một phiếu bầu đại biểu Quốc hội và một phiếu bầu đại biểu Hội "
            "đồng nhân dân mỗi cấp.",
            "Cử tri kiểm tra tên mình trong danh sách cử tri niêm yết tại khu vực bỏ phiếu; nếu "
            "có sai sót phải báo ngay để điều chỉnh.",
            "Bầu cử là quyền và nghĩa vụ của công dân; bà con đi bầu cử đúng giờ, mang theo thẻ "
            "cử tri.",
            "Các tổ bầu cử bắt đầu bỏ phiếu từ 7 giờ sáng và kết thúc lúc 19 giờ cùng ngày.",
        ],
    ),
    Topic(
        7,
        "Chuyển đổi số",
        ["Chuyển đổi số cộng đồng", "Dịch vụ công trực tuyến 2026"],
        [
            "Hướng dẫn nộp hồ sơ trên Cổng dịch vụ công",
            "Kích hoạt tài khoản định danh điện tử VNeID",
            "Cảnh giác lừa đảo qua điện thoại và mạng xã hội",
        ],
        [
            "Bà con có thể nộp hồ sơ, tra cứu kết quả thủ tục hành chính trên Cổng dịch vụ công "
            "quốc gia mà không cần đến trụ sở.",
            "Tổ công nghệ số cộng đồng ở từng thôn, khu phố sẵn sàng hướng dẫn bà con cài đặt và "
            "sử dụng ứng dụng VNeID.",
            "Tài khoản định danh điện tử mức độ 2 giúp bà con thay thế nhiều loại giấy tờ khi "
            "làm thủ tục.",
            "Bà con tuyệt đối không cung cấp mã OTP, mật khẩu tài khoản ngân hàng cho bất kỳ ai "
            "qua điện thoại.",
            "Thanh toán không dùng tiền mặt khi đóng tiền điện, tiền nước, học phí giúp tiết kiệm "
            "thời gian đi lại.",
        ],
    ),
    Topic(
        7,
        "An sinh xã hội",
        ["Bảo hiểm y tế toàn dân", "Bảo hiểm xã hội tự nguyện"],
        [
            "Gia hạn thẻ bảo hiểm y tế năm {nam}",
            "Lợi ích của bảo hiểm xã hội tự nguyện",
            "Bảo hiểm y tế hộ gia đình tại {noi}",
        ],
        [
            "Bảo hiểm y tế giúp người dân giảm gánh nặng chi phí khi ốm đau, nằm viện.",
            "Bà con chưa có thẻ bảo hiểm y tế hãy đăng ký tham gia theo hộ gia đình tại Ủy ban "
            "nhân dân {noi} hoặc đại lý thu.",
            "Người tham gia bảo hiểm xã hội tự nguyện được Nhà nước hỗ trợ một phần tiền đóng và "
            "được hưởng lương hưu khi về già.",
            "Mức đóng bảo hiểm y tế hộ gia đình giảm dần từ người thứ hai trở đi trong cùng hộ.",
            "Hạn cuối gia hạn thẻ bảo hiểm y tế năm {nam} là ngày {ngay}; bà con chú ý để không "
            "bị gián đoạn quyền lợi.",
        ],
    ),
    Topic(
        7,
        "Nông nghiệp",
        ["Sản xuất thanh long VietGAP", "Lịch thời vụ vụ Đông Xuân"],
        [
            "Phòng trừ bệnh đốm nâu trên cây thanh long",
            "Tập huấn kỹ thuật canh tác VietGAP tại {noi}",
            "Lịch xuống giống vụ Đông Xuân {nam}",
        ],
        [
            "Hiện nay trên cây thanh long đang xuất hiện bệnh đốm nâu gây hại, nhất là ở các "
            "vườn chăm sóc chưa đúng kỹ thuật.",
            "Bà con cần cắt tỉa cành bệnh, thu gom tiêu hủy và phun thuốc bảo vệ thực vật theo "
            "nguyên tắc bốn đúng.",
            "Trạm Khuyến nông tổ chức lớp tập huấn kỹ thuật canh tác thanh long theo tiêu chuẩn "
            "VietGAP vào ngày {ngay} tại {noi}.",
            "Sử dụng phân bón hữu cơ, hạn chế phân hóa học giúp cây khỏe, trái đạt chất lượng "
            "xuất khẩu.",
            "Bà con theo dõi lịch thời vụ, không xuống giống lúa khi chưa có thông báo của ngành "
            "nông nghiệp.",
        ],
    ),
    Topic(
        6,
        "Môi trường",
        ["Chống rác thải nhựa", "Ngày chủ nhật xanh"],
        [
            "Chung tay chống rác thải nhựa",
            "Phân loại rác thải sinh hoạt tại nguồn",
            "Ra quân ngày chủ nhật xanh tại {noi}",
        ],
        [
            "Hưởng ứng phong trào chống rác thải nhựa, mỗi gia đình hãy hạn chế sử dụng túi ni "
            "lông, ống hút nhựa dùng một lần.",
            "Rác thải sinh hoạt phải được phân loại tại nguồn và để đúng nơi quy định, đúng giờ "
            "xe thu gom.",
            "Nghiêm cấm đổ rác, xả nước thải chưa qua xử lý xuống sông, suối, kênh mương và bờ "
            "biển.",
            "Ngày chủ nhật xanh {ngay}, các khu phố ra quân dọn vệ sinh đường làng, ngõ xóm, "
            "khơi thông cống rãnh.",
        ],
    ),
    Topic(
        5,
        "An ninh - trật tự",
        ["Phòng chống ma túy"],
        [
            "Tháng hành động phòng chống ma túy",
            "Tố giác tội phạm ma túy tại {noi}",
        ],
        [
            "Ma túy là hiểm họa của toàn xã hội, tàn phá sức khỏe, kinh tế gia đình và là nguyên "
            "nhân của nhiều loại tội phạm.",
            "Phụ huynh quan tâm, quản lý con em, phát hiện sớm các biểu hiện bất thường để phối "
            "hợp với nhà trường giáo dục.",
            "Bà con phát hiện tụ điểm mua bán trái phép chất ma túy hãy báo ngay cho Công an "
            "{noi}; danh tính người báo tin được giữ bí mật.",
            "Người nghiện ma túy được hỗ trợ cai nghiện tự nguyện tại gia đình và cộng đồng.",
        ],
    ),
    Topic(
        7,
        "Thủy sản",
        ["Chống khai thác IUU", "An toàn cho ngư dân trên biển"],
        [
            "Chống khai thác hải sản bất hợp pháp (IUU)",
            "Duy trì thiết bị giám sát hành trình tàu cá",
            "Thông báo cho ngư dân cảng cá {noi}",
        ],
        [
            "Chủ tàu cá và thuyền trưởng phải duy trì thiết bị giám sát hành trình hoạt động "
            "24/24 giờ khi ra khơi.",
            "Tuyệt đối không đưa tàu cá khai thác hải sản trái phép ở vùng biển nước ngoài.",
            "Tàu cá phải thực hiện đầy đủ thủ tục xuất bến, nhập bến và ghi nhật ký khai thác "
            "theo quy định.",
            "Mọi hành vi khai thác bất hợp pháp, không báo cáo và không theo quy định sẽ bị xử lý "
            "nghiêm theo pháp luật.",
            "Ngư dân tham gia bảo hiểm thân tàu và bảo hiểm tai nạn thuyền viên để được hỗ trợ "
            "khi gặp rủi ro trên biển.",
        ],
    ),
]
SOURCE_KINDS = ["Công văn", "Kế hoạch", "Thông báo", "Quyết định", "Chỉ thị"]
SOURCE_ISSUERS = [
    "Ủy ban nhân dân tỉnh Bình Thuận",
    "Sở Y tế tỉnh Bình Thuận",
    "Sở Thông tin và Truyền thông tỉnh Bình Thuận",
    "Ban Chỉ huy phòng chống thiên tai và tìm kiếm cứu nạn tỉnh",
    "Ban An toàn giao thông tỉnh Bình Thuận",
    "Ủy ban bầu cử tỉnh Bình Thuận",
]
STATUSES = [
    (ScriptStatus.DRAFT, 20),
    (ScriptStatus.SUBMITTED, 10),
    (ScriptStatus.APPROVED, 50),
    (ScriptStatus.REJECTED, 10),
    (ScriptStatus.ARCHIVED, 10),
]
PRIORITIES = [(Priority.NORMAL, 70), (Priority.HIGH, 22), (Priority.EMERGENCY, 8)]
REJECT_REASONS = [
    "Cần ghi rõ số hiệu và ngày ban hành văn bản nguồn.",
    "Câu quá dài, phát thanh viên khó đọc; hãy tách câu.",
    "Thời gian thực hiện chưa khớp với kế hoạch của huyện.",
]


def machine_info() -> dict[str, str]:
    """The machine, and the SQLite library the benchmark runs against."""
    return base_machine_info() | {"SQLite": sqlite3.sqlite_version}


class SqlCounter:
    """Count statements and the time spent in the database driver."""

    def __init__(self, engine) -> None:
        self.count = 0
        self.seconds = 0.0
        self._started: list[float] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *args) -> None:
        """Remember when a statement starts."""
        self._started.append(time.perf_counter())

    def _after(self, *args) -> None:
        """Add a finished statement to the totals."""
        self.count += 1
        self.seconds += time.perf_counter() - self._started.pop()

    def reset(self) -> None:
        """Start counting from zero."""
        self.count, self.seconds = 0, 0.0


def is_postgres(url: str) -> bool:
    """Tell whether a database URL points at PostgreSQL."""
    return make_url(url).get_backend_name() == "postgresql"


def reset_postgres(url: str) -> None:
    """Drop everything in the public schema of a bench or test database."""
    name = make_url(url).database or ""
    if "bench" not in name and "test" not in name:
        sys.exit(f"refusing to wipe PostgreSQL database {name!r}: its name lacks bench or test")
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


def check_target(url: str) -> None:
    """Refuse an in-memory SQLite database or an existing SQLite file (seeding needs it empty)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return
    if not parsed.database or parsed.database == ":memory:":
        sys.exit("an in-memory SQLite database is not supported; give a file path")
    if Path(parsed.database).exists():
        sys.exit(f"{parsed.database} exists; the benchmark seeds a new SQLite file only")


def build_app(url: str, workdir: Path):
    """An app like the tests build, on the given database, with a fresh schema."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench-secret",
            "INSTANCE_PATH": workdir / "instance",
            "SQLALCHEMY_DATABASE_URI": url,
            "SCRIPTS_DIR": workdir / "scripts_vi",
            "SCHEDULES_DIR": workdir / "schedules",
            "AUDIO_DIR": workdir / "audio",
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "WTF_CSRF_ENABLED": False,
            "SESSION_COOKIE_SECURE": False,
            "REMEMBER_COOKIE_SECURE": False,
        }
    )
    with app.app_context():
        if is_postgres(url):
            reset_postgres(url)
        db.create_all()
    return app


def weighted(rng: random.Random, pairs: list[tuple]) -> object:
    """Pick one value from (value, weight) pairs."""
    return rng.choices([v for v, _ in pairs], weights=[w for _, w in pairs])[0]


def vn_date(d: date) -> str:
    """A date as Vietnamese officials write it, e.g. 5/9/2026."""
    return f"{d.day}/{d.month}/{d.year}"


def in_sentence(name: str) -> str:
    """A unit name as it reads mid-sentence ("xã Hàm Hiệp")."""
    return name[0].lower() + name[1:]


@dataclass
class Expected:
    """What the seeded data should show, to check that every response is the right one."""

    order: list[int] = field(default_factory=list)
    titles: dict[int, str] = field(default_factory=dict)
    matches: dict[str, set[int]] = field(default_factory=dict)
    filtered: set[int] = field(default_factory=set)

    def ordered(self, ids: set[int]) -> list[int]:
        """The given script ids in list order (newest change first)."""
        return [i for i in self.order if i in ids]


class Seeder:
    """Generate a province of scripts and bulk-insert it with Core executemany."""

    def __init__(self, n_scripts: int, versions: int, seed: int) -> None:
        self.n_scripts = n_scripts
        self.versions = versions
        self.rng = random.Random(seed)
        self.expected = Expected(matches={COMMON_QUERY: set(), RARE_QUERY: set()})
        self.search_terms = {
            q: re.findall(r"\S+", fold(q))[:10] for q in (COMMON_QUERY, RARE_QUERY)
        }
        self.units: list[dict] = []
        self.users: list[dict] = []
        self.writer_of: dict[int, int] = {}
        self.reviewer_of: dict[int, int] = {}
        self._sort_keys: list[tuple[datetime, int]] = []

    def unit_rows(self) -> list[dict]:
        """A province, ten districts and ten communes in each."""
        created = NOW - timedelta(days=800)
        rows = [self._unit(1, "BT", "Tỉnh Bình Thuận", "Tỉnh", None, "/1/", created)]
        next_id = 2
        stems = list(COMMUNE_STEMS)
        for suffix, name, level in DISTRICTS:
            district_id = next_id
            next_id += 1
            path = f"/1/{district_id}/"
            rows.append(self._unit(district_id, f"BT-{suffix}", name, level, 1, path, created))
            self.rng.shuffle(stems)
            for j, stem in enumerate(stems[:10], start=1):
                kind = "Phường" if level != "Huyện" and j <= 4 else "Xã"
                rows.append(
                    self._unit(
                        next_id,
                        f"BT-{suffix}-{j:02d}",
                        f"{kind} {stem}",
                        kind,
                        district_id,
                        f"{path}{next_id}/",
                        created,
                    )
                )
                next_id += 1
        self.units = rows
        return rows

    @staticmethod
    def _unit(uid, code, name, level, parent_id, path, created) -> dict:
        """One row of the units table."""
        return {
            "id": uid,
            "code": code,
            "name": name,
            "level": level,
            "parent_id": parent_id,
            "path": path,
            "active": True,
            "created_at": created,
        }

    def user_rows(self, password_hash: str) -> list[dict]:
        """A writer in every unit and a supervisor in the province and every district."""
        rows = []
        for unit in self.units:
            for role in (Role.WRITER, Role.SUPERVISOR):
                if role == Role.SUPERVISOR and unit["parent_id"] not in (None, 1):
                    continue
                uid = len(rows) + 1
                username = (
                    SUPERVISOR
                    if unit["id"] == 1 and role == Role.SUPERVISOR
                    else f"{role.value}{unit['id']}"
                )
                rows.append(
                    {
                        "id": uid,
                        "username": username,
                        "full_name": f"{role.label} {unit['name']}",
                        "password_hash": password_hash,
                        "role": role,
                        "unit_id": unit["id"],
                        "active": True,
                        "must_change_password": False,
                        "failed_logins": 0,
                        "locked_until": None,
                        "session_version": 1,
                        "last_login_at": None,
                        "created_at": NOW - timedelta(days=790),
                    }
                )
                if role == Role.WRITER:
                    self.writer_of[unit["id"]] = uid
                else:
                    self.reviewer_of[unit["id"]] = uid
        self.users = rows
        return rows

    def _reviewer(self, unit: dict) -> int:
        """The supervisor who decides on a unit's scripts: its district's, or the province's."""
        district = int(unit["path"].strip("/").split("/")[:2][-1])
        return self.reviewer_of.get(district, self.reviewer_of[1])

    def _fill(self, sentence: str, ctx: dict) -> str:
        """Replace the placeholders of a pool sentence with this script's values."""
        rng = self.rng
        day = NOW.date() - timedelta(days=rng.randint(0, 700))
        return sentence.format(
            noi=ctx["noi"],
            ngay=vn_date(day),
            ngay2=vn_date(day + timedelta(days=rng.randint(7, 60))),
            gio=f"{rng.choice([6, 7, 8])} giờ {rng.choice(['', '15', '30'])}".strip(),
            so=rng.randint(2, 120),
            sdt=f"0252.38{rng.randint(10000, 99999)}",
            nam=rng.choice([2025, 2026, 2027]),
            thang=rng.randint(1, 12),
        )

    def _sentence(self, topic: Topic, ctx: dict) -> str:
        """The next sentence from a shuffled deck of the topic's and general sentences."""
        if not ctx["deck"]:
            ctx["deck"] = topic.sentences + GENERAL
            self.rng.shuffle(ctx["deck"])
        return self._fill(ctx["deck"].pop(), ctx)

    @staticmethod
    def _size(paras: list[list[str]]) -> int:
        """Length of the body the paragraphs make."""
        return sum(len(s) + 1 for p in paras for s in p) + 2 * len(paras)

    def _first_body(self, topic: Topic, ctx: dict) -> list[list[str]]:
        """Paragraphs of sentences, between about 1,500 and 3,000 characters in all."""
        rng = self.rng
        target = rng.randint(MIN_BODY, MAX_BODY)
        paras = [[self._fill(rng.choice(OPENINGS), ctx)]]
        closing = [self._fill(rng.choice(CLOSINGS), ctx)]
        while self._size([*paras, closing]) < target:
            para = [self._sentence(topic, ctx) for _ in range(rng.randint(2, 4))]
            if ctx["rare"] and len(paras) == 1:
                para.insert(0, RARE_SENTENCE)
            while len(para) > 1 and self._size([*paras, para, closing]) > MAX_BODY:
                para.pop()
            paras.append(para)
        return [*paras, closing]

    def _edit(self, paras: list[list[str]], topic: Topic, ctx: dict) -> list[list[str]]:
        """A writer's next version: one to three sentences replaced, added or removed."""
        rng = self.rng
        paras = [list(p) for p in paras]
        for _ in range(rng.randint(1, 3)):
            p = rng.randrange(1, len(paras) - 1) if len(paras) > 2 else 0
            s = rng.randrange(len(paras[p]))
            size = self._size(paras)
            op = rng.choice(["replace", "insert", "delete"])
            if size > MAX_BODY - 150:
                op = "delete"
            elif size < MIN_BODY + 150:
                op = "insert"
            if paras[p][s] == RARE_SENTENCE or (op == "delete" and len(paras[p]) == 1):
                continue
            if op == "replace":
                paras[p][s] = self._sentence(topic, ctx)
            elif op == "insert":
                paras[p].insert(s, self._sentence(topic, ctx))
            else:
                del paras[p][s]
        return paras

    def scripts(self, first_id: int, count: int):
        """Rows for scripts first_id..first_id+count-1: scripts, versions, targets, reviews."""
        rng = self.rng
        scripts, versions, targets, reviews, pointers = [], [], [], [], []
        units_by_depth = {0: [], 1: [], 2: []}
        for unit in self.units:
            units_by_depth[unit["path"].count("/") - 2].append(unit)
        for sid in range(first_id, first_id + count):
            depth = weighted(rng, [(0, 10), (1, 35), (2, 55)])
            unit = rng.choice(units_by_depth[depth])
            topic = rng.choices(TOPICS, weights=[t.weight for t in TOPICS])[0]
            ctx = {
                "noi": in_sentence(unit["name"]),
                "rare": topic.category == "Thủy sản" and rng.random() < 0.05,
                "deck": [],
            }
            title = self._fill(rng.choice(topic.titles), ctx)
            campaign = rng.choice(topic.campaigns) if rng.random() < 0.9 else ""
            status = weighted(rng, STATUSES)
            priority = weighted(rng, PRIORITIES)
            source = {"source_kind": "", "source_number": "", "source_date": None}
            issuer = ""
            if rng.random() < 0.75:
                source = {
                    "source_kind": rng.choice(SOURCE_KINDS),
                    "source_number": f"{rng.randint(100, 4999)}/UBND-{rng.choice(['VX', 'KT'])}",
                    "source_date": NOW.date() - timedelta(days=rng.randint(10, 760)),
                }
                issuer = rng.choice(SOURCE_ISSUERS)
            updated = NOW - timedelta(seconds=rng.randint(0, 700 * 86400))
            created = updated - timedelta(seconds=rng.randint(3600, 60 * 86400))
            step = (updated - created) / max(self.versions, 1)
            writer = self.writer_of[unit["id"]]
            reviewer = self._reviewer(unit)
            vid0 = (sid - 1) * self.versions
            paras = self._first_body(topic, ctx)
            body = ""
            for n in range(1, self.versions + 1):
                if n > 1:
                    paras = self._edit(paras, topic, ctx)
                body = nfc("\n\n".join(" ".join(p) for p in paras))
                versions.append(
                    {
                        "id": vid0 + n,
                        "script_id": sid,
                        "number": n,
                        "body": body,
                        "sha256": hashlib.sha256(body.encode()).hexdigest(),
                        "author_id": writer,
                        "origin": "web" if rng.random() < 0.9 else "api",
                        "created_at": created + step * (n - 1),
                    }
                )
            current = vid0 + self.versions
            approved = None
            seq = 0
            if status in (ScriptStatus.APPROVED, ScriptStatus.ARCHIVED, ScriptStatus.REJECTED):
                decisions = [(Decision.APPROVED, current)]
                if status == ScriptStatus.REJECTED:
                    decisions = [(Decision.REJECTED, current)]
                elif self.versions > 2 and rng.random() < 0.3:
                    decisions.insert(0, (Decision.REJECTED, current - 1))
                for decision, version_id in decisions:
                    seq += 1
                    reviews.append(
                        {
                            "id": sid * 4 + seq,
                            "script_id": sid,
                            "version_id": version_id,
                            "submission_seq": seq,
                            "decision": decision,
                            "reason": (
                                rng.choice(REJECT_REASONS) if decision == Decision.REJECTED else ""
                            ),
                            "reviewer_id": reviewer,
                            "created_at": updated - timedelta(minutes=10 * (3 - seq)),
                        }
                    )
                if status != ScriptStatus.REJECTED:
                    approved = current
            elif status == ScriptStatus.SUBMITTED:
                seq = 1
            row = {
                "id": sid,
                "source_key": None,
                "unit_id": unit["id"],
                "title": title,
                "campaign": campaign,
                "category": topic.category,
                "priority": priority,
                **source,
                "source_issuer": issuer,
                "valid_from": created.date(),
                "valid_until": created.date() + timedelta(days=90) if rng.random() < 0.6 else None,
                "status": status,
                "current_version_id": None,
                "approved_version_id": None,
                "revision": self.versions + seq + 1,
                "version_number": self.versions,
                "submission_seq": seq,
                "submitted_at": updated - timedelta(hours=1) if seq else None,
                "submitted_by_id": writer if seq else None,
                "created_by_id": writer,
                "created_at": created,
                "updated_at": updated,
            }
            # Exactly what the service stores: fold(title, campaign, category, source, body).
            label = Script.source_label.fget(SimpleNamespace(**source))
            row["search_text"] = fold(" ".join([title, campaign, topic.category, label, body]))
            scripts.append(row)
            pointers.append({"sid": sid, "current": current, "approved": approved})
            targets.append({"script_id": sid, "unit_id": unit["id"]})
            if depth == 1 and rng.random() < 0.3:
                children = [u for u in self.units if u["parent_id"] == unit["id"]]
                for child in rng.sample(children, 2):
                    targets.append({"script_id": sid, "unit_id": child["id"]})
            self._remember(row, status, priority)
        return scripts, versions, targets, reviews, pointers

    def _remember(self, row: dict, status: ScriptStatus, priority: Priority) -> None:
        """Note what the list, filters and searches should return for this script."""
        sid = row["id"]
        self.expected.titles[sid] = row["title"]
        self._sort_keys.append((row["updated_at"], sid))
        for query, terms in self.search_terms.items():
            if all(t in row["search_text"] for t in terms):
                self.expected.matches[query].add(sid)
        if status == ScriptStatus.APPROVED and priority == Priority.HIGH:
            self.expected.filtered.add(sid)

    def seed(self) -> None:
        """Insert everything in one transaction; scripts first, then versions, then pointers."""
        scripts_t, versions_t = Script.__table__, ScriptVersion.__table__
        set_pointers = (
            update(scripts_t)
            .where(scripts_t.c.id == bindparam("sid"))
            .values(
                current_version_id=bindparam("current"),
                approved_version_id=bindparam("approved"),
            )
        )
        with db.engine.begin() as conn:
            conn.execute(insert(Unit.__table__), self.unit_rows())
            conn.execute(insert(User.__table__), self.user_rows(hash_password(PASSWORD)))
            for first in range(1, self.n_scripts + 1, CHUNK):
                count = min(CHUNK, self.n_scripts - first + 1)
                scripts, versions, targets, reviews, pointers = self.scripts(first, count)
                conn.execute(insert(scripts_t), scripts)
                conn.execute(insert(versions_t), versions)
                conn.execute(insert(script_targets), targets)
                if reviews:
                    conn.execute(insert(ScriptReview.__table__), reviews)
                conn.execute(set_pointers, pointers)
            if conn.dialect.name == "postgresql":
                for table in ("units", "users", "scripts", "script_versions", "script_reviews"):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))"
                        )
                    )
        self._sort_keys.sort(reverse=True)
        self.expected.order = [sid for _, sid in self._sort_keys]


def finish_database(url: str) -> str:
    """Checkpoint (SQLite) or analyze (PostgreSQL) after seeding; return the database size."""
    if is_postgres(url):
        tables = ", ".join(t.name for t in db.metadata.sorted_tables)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # Autovacuum would vacuum and analyze freshly loaded tables within minutes; a live
            # database is in that state, so do it now rather than time a cold planner.
            conn.execute(text(f"VACUUM (ANALYZE) {tables}"))
            size = conn.scalar(text("SELECT pg_database_size(current_database())"))
        return f"{size / 1024 / 1024:.0f} MB"
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    path = Path(make_url(url).database or "")
    return f"{path.stat().st_size / 1024 / 1024:.0f} MB"


@dataclass
class Result:
    """Latencies of one endpoint."""

    name: str
    path: str
    times_ms: list[float]
    queries: list[int]
    sql_ms: list[float]

    @property
    def p95(self) -> float:
        """95th percentile latency in milliseconds."""
        return statistics.quantiles(self.times_ms, n=20, method="inclusive")[18]

    def as_dict(self) -> dict:
        """Summary figures for the table and the JSON output."""
        return {
            "endpoint": self.name,
            "path": self.path,
            "n": len(self.times_ms),
            "median_ms": round(statistics.median(self.times_ms), 1),
            "p95_ms": round(self.p95, 1),
            "max_ms": round(max(self.times_ms), 1),
            "queries": statistics.median(self.queries),
            "sql_median_ms": round(statistics.median(self.sql_ms), 1),
            "pass": self.p95 < TARGET_P95_MS,
        }


def measure(client, name, paths, check, sql, warmup, headers=None) -> Result:
    """Time GET requests over the given paths, after a few warm-up requests."""
    for path in paths[:warmup]:
        check(path, client.get(path, headers=headers))
    times, queries, sql_ms = [], [], []
    for path in paths:
        sql.reset()
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        elapsed = time.perf_counter() - started
        check(path, response)
        times.append(elapsed * 1000)
        queries.append(sql.count)
        sql_ms.append(sql.seconds * 1000)
    return Result(name, re.sub(r"/scripts/\d+", "/scripts/<id>", paths[0]), times, queries, sql_ms)


def thousands(n: int) -> str:
    """A count as the templates print it (10.000)."""
    return f"{n:,}".replace(",", ".")


def html_checker(expected: Expected, ids: list[int] | None, page: int = 1):
    """Check an HTML list page: status 200, the right total and the right first title."""
    order = expected.ordered(set(ids)) if ids is not None else expected.order

    def check(path, response) -> None:
        """Assert that the list page shows the expected scripts."""
        html = response.get_data(as_text=True)
        assert response.status_code == 200, (path, response.status_code)
        assert "scripts-table" in html, path
        if not order:
            assert "Không có kịch bản nào khớp" in html, (path, "expected no results")
            return
        first = order[(page - 1) * PER_PAGE]
        assert str(escape(expected.titles[first])) in html, (path, "first title missing")
        if len(order) > PER_PAGE:
            pages = math.ceil(len(order) / PER_PAGE)
            total = f"Trang {page} / {pages} ({thousands(len(order))} mục)"
            assert total in html, (path, total)

    return check


def run(url: str, args, workdir: Path) -> dict:
    """Seed one database and measure every endpoint on it."""
    backend = make_url(url).get_backend_name()
    print(f"\n== {backend}: {make_url(url).render_as_string(hide_password=True)}", flush=True)
    app = build_app(url, workdir)
    seeder = Seeder(args.scripts, args.versions_per_script, args.seed)
    started = time.perf_counter()
    with app.app_context():
        seeder.seed()
        seeding_s = time.perf_counter() - started
        size = finish_database(url)
        server = ""
        if backend == "postgresql":
            server = db.session.scalar(text("SHOW server_version"))
        engine = db.engine
        supervisor = db.session.scalar(select(User).where(User.username == SUPERVISOR))
        _, token = create_token(supervisor, "bench")
    expected = seeder.expected
    n_versions = args.scripts * args.versions_per_script
    print(
        f"seeded {args.scripts:,} scripts, {n_versions:,} versions in {seeding_s:.1f} s; "
        f"database size {size}",
        flush=True,
    )

    sql = SqlCounter(engine)
    client = app.test_client()
    response = client.post("/login", data={"username": SUPERVISOR, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)

    rng = random.Random(args.seed + 1)
    n = args.requests
    pages = math.ceil(args.scripts / PER_PAGE)
    middle = max(pages // 2, 1)
    script_ids = [rng.randint(1, args.scripts) for _ in range(n)]
    common = expected.matches[COMMON_QUERY]
    rare = expected.matches[RARE_QUERY]

    def check_show(path, response) -> None:
        """Assert that the script page shows the script's title and current version."""
        html = response.get_data(as_text=True)
        sid = int(path.split("/")[2])
        assert response.status_code == 200, (path, response.status_code)
        assert str(escape(expected.titles[sid])) in html, path
        assert f"phiên bản {args.versions_per_script}" in html, path

    def check_diff(path, response) -> None:
        """Assert that the diff page compares the last two versions."""
        html = response.get_data(as_text=True)
        last = args.versions_per_script
        assert response.status_code == 200, (path, response.status_code)
        assert f"So sánh phiên bản {max(last - 1, 1)} và {last}" in html, path
        assert "script-body" in html, path

    def api_checker(ids: set[int]):
        """Check an API list: the right total and the right first page of ids."""
        order = expected.ordered(ids)

        def check(path, response) -> None:
            """Assert that the JSON list matches the seeded data."""
            assert response.status_code == 200, (path, response.status_code)
            data = response.get_json()
            assert data["total"] == len(order), (path, data["total"], len(order))
            assert [s["id"] for s in data["items"]] == order[:PER_PAGE], path

        return check

    q_common, q_rare = quote(COMMON_QUERY), quote(RARE_QUERY)
    auth = {"Authorization": f"Bearer {token}"}
    cases = [
        ("list, first page", ["/scripts"] * n, html_checker(expected, None)),
        (
            f"list, page {middle}",
            [f"/scripts?page={middle}"] * n,
            html_checker(expected, None, middle),
        ),
        (
            "list, status+priority filter",
            ["/scripts?status=approved&priority=priority"] * n,
            html_checker(expected, list(expected.filtered)),
        ),
        (
            f"search “{COMMON_QUERY}” ({len(common):,} hits)",
            [f"/scripts?q={q_common}"] * n,
            html_checker(expected, list(common)),
        ),
        (
            f"search “{RARE_QUERY}” ({len(rare):,} hits)",
            [f"/scripts?q={q_rare}"] * n,
            html_checker(expected, list(rare)),
        ),
        ("script page", [f"/scripts/{i}" for i in script_ids], check_show),
        ("diff, last two versions", [f"/scripts/{i}/diff" for i in script_ids], check_diff),
    ]
    results = [
        measure(client, name, paths, check, sql, args.warmup) for name, paths, check in cases
    ]
    api_cases = [
        (f"API search “{COMMON_QUERY}”", f"/api/v1/scripts?q={q_common}", common),
        (f"API search “{RARE_QUERY}”", f"/api/v1/scripts?q={q_rare}", rare),
    ]
    for name, path, ids in api_cases:
        results.append(
            measure(client, name, [path] * n, api_checker(ids), sql, args.warmup, headers=auth)
        )
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return {
        "backend": backend,
        "server_version": server,
        "scripts": args.scripts,
        "versions": n_versions,
        "seeding_s": round(seeding_s, 1),
        "database_size": size,
        "results": [r.as_dict() for r in results],
    }


def print_table(report: dict) -> None:
    """Print one database's figures as a Markdown table."""
    server = f" {report['server_version']}" if report["server_version"] else ""
    print(
        f"\n{report['backend']}{server}: {report['scripts']:,} scripts, "
        f"{report['versions']:,} versions; seeding {report['seeding_s']} s; "
        f"database {report['database_size']}"
    )
    header = ("endpoint", "n", "median ms", "p95 ms", "max ms", "queries", "SQL ms", "p95 < 100")
    rows = [
        (
            r["endpoint"],
            str(r["n"]),
            f"{r['median_ms']:.1f}",
            f"{r['p95_ms']:.1f}",
            f"{r['max_ms']:.1f}",
            f"{r['queries']:g}",
            f"{r['sql_median_ms']:.1f}",
            "PASS" if r["pass"] else "FAIL",
        )
        for r in report["results"]
    ]
    markdown_table(header, rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripts", type=int, default=10_000)
    parser.add_argument("--versions-per-script", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per endpoint")
    add_database_url(parser)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.scripts < PER_PAGE * 2 or args.versions_per_script < 1 or args.requests < 20:
        parser.error("need at least 40 scripts, 1 version per script and 20 requests")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on every requested database and print the figures."""
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="loa-bench-"))
    urls = args.database_url or [f"sqlite:///{workdir / 'bench.sqlite3'}"]
    if not args.database_url and os.environ.get("TEST_DATABASE_URL"):
        urls.append(os.environ["TEST_DATABASE_URL"])
    info = machine_info()
    print("Loa script desk benchmark")
    for key, value in info.items():
        print(f"{key:>8}: {value}")
    reports = []
    try:
        for i, url in enumerate(urls):
            check_target(url)
            reports.append(run(url, args, workdir / f"run{i}"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for report in reports:
        print_table(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": info, "date": date.today().isoformat(), "runs": reports}
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    failed = [r for report in reports for r in report["results"] if not r["pass"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
