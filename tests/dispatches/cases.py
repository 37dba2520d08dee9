"""Dispatch texts written for the tests, each with the fields it must read as.

They vary what the seed does not: kinds (công văn, kế hoạch, thông báo, chỉ thị, quyết định,
công điện), issuers (a district, a commune, a ward, a department, a steering committee), stamps
dropped mid-sentence or at the top, with and without "Kính gửi" and "Nơi nhận", a header whose
two columns ran together, a two-line subject, joint issuers, an annex after the signature,
deadlines without a cue word, and a dispatch with no number.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Case:
    """A dispatch text and the fields expected from it (fields not named are not checked)."""

    name: str
    text: str
    expected: dict
    points: list[tuple[str, int]] = field(default_factory=list)  # (label, level) in order
    body_has: list[str] = field(default_factory=list)
    body_lacks: list[str] = field(default_factory=list)


DISTRICT_CONG_VAN = Case(
    name="district_cong_van_khan_mid_sentence",
    text="""ỦY BAN NHÂN DÂN
HUYỆN HÀM THUẬN BẮC

Số: 1532/UBND-VX
V/v tăng cường tuyên truyền phòng,
chống dịch COVID-19 trên hệ thống
truyền thanh cơ sở

CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc

Hàm Thuận Bắc, ngày 06 tháng 9 năm 2021

Kính gửi: Ủy ban nhân dân các xã, thị trấn.

Thực hiện Công văn số 3050/UBND-KGVX ngày 01/9/2021 của Ủy ban nhân dân tỉnh về
việc tăng cường công tác phòng, chống dịch COVID-19, Ủy ban nhân dân huyện yêu cầu
Chủ tịch Ủy ban nhân dân các xã, thị trấn
KHẨN
chỉ đạo thực hiện ngay các nội dung sau:
1. Đài truyền thanh các xã, thị trấn phát thông điệp 5K mỗi ngày 3 lần vào buổi sáng,
trưa và chiều.
2. Báo cáo kết quả thực hiện về Ủy ban nhân dân huyện (qua Phòng Văn hóa và Thông tin)
trước ngày 15/9/2021 để tổng hợp.
Mọi thông tin liên hệ Phòng Văn hóa và Thông tin huyện, điện thoại: 0252.3865.123,
email: pvhtt.htb@binhthuan.gov.vn./.

Nơi nhận:                                        KT. CHỦ TỊCH
- Như trên;                                      PHÓ CHỦ TỊCH
- TT. HU, TT. HĐND huyện (b/c);
- Chủ tịch, các PCT UBND huyện;
- Lưu: VT, VX.                                   Nguyễn Thị Lan
""",
    expected={
        "kind": "công văn",
        "number": 1532,
        "code": "UBND-VX",
        "issuer": "ỦY BAN NHÂN DÂN HUYỆN HÀM THUẬN BẮC",
        "parent_issuer": None,
        "place": "Hàm Thuận Bắc",
        "date": "2021-09-06",
        "subject": "tăng cường tuyên truyền phòng, chống dịch COVID-19 trên hệ thống "
        "truyền thanh cơ sở",
        "urgency": "KHẨN",
        "addressees": ["Ủy ban nhân dân các xã, thị trấn"],
        "distribution": [
            "Như trên",
            "TT. HU, TT. HĐND huyện (b/c)",
            "Chủ tịch, các PCT UBND huyện",
            "Lưu: VT, VX",
        ],
        "signer_title": "KT. CHỦ TỊCH / PHÓ CHỦ TỊCH",
        "signer_name": "Nguyễn Thị Lan",
        "cites": [
            {
                "kind": "công văn",
                "number": 3050,
                "code": "UBND-KGVX",
                "date": "2021-09-01",
                "issuer": "Ủy ban nhân dân tỉnh",
            }
        ],
        "contacts": [
            {
                "type": "email",
                "value": "pvhtt.htb@binhthuan.gov.vn",
                "text": "pvhtt.htb@binhthuan.gov.vn",
                "name": None,
            },
            {"type": "phone", "value": "02523865123", "text": "0252.3865.123", "name": None},
        ],
        "deadlines": [
            {
                "date": "2021-09-15",
                "time": None,
                "text": "Báo cáo kết quả thực hiện về Ủy ban nhân dân huyện (qua Phòng Văn hóa "
                "và Thông tin) trước ngày 15/9/2021 để tổng hợp",
            }
        ],
    },
    points=[("1.", 0), ("2.", 0)],
    body_has=["Chủ tịch Ủy ban nhân dân các xã, thị trấn chỉ đạo thực hiện ngay"],
    body_lacks=["KHẨN"],
)

COMMUNE_KE_HOACH = Case(
    name="commune_ke_hoach_sections",
    text="""ỦY BAN NHÂN DÂN
XÃ HÀM HIỆP
Số: 45/KH-UBND
CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc
Hàm Hiệp, ngày 10 tháng 9 năm 2021
KẾ HOẠCH
Tuyên truyền tiêm vắc xin phòng COVID-19 đợt 7 trên địa bàn xã
Căn cứ Kế hoạch số 210/KH-UBND ngày 08/9/2021 của UBND huyện Hàm Thuận Bắc về tiêm vắc
xin phòng COVID-19 đợt 7; Ủy ban nhân dân xã xây dựng Kế hoạch tuyên truyền như sau:
I. MỤC ĐÍCH, YÊU CẦU
1. Nâng cao nhận thức của người dân về lợi ích của tiêm vắc xin.
2. Bảo đảm 100% hộ gia đình được thông tin về lịch tiêm.
II. NỘI DUNG
1. Phát thanh trên hệ thống loa của xã:
a) Lịch tiêm chủng tại Trạm Y tế xã từ ngày 13/9/2021 đến ngày 17/9/2021.
b) Các đối tượng được ưu tiên tiêm:
- Người từ 65 tuổi trở lên;
- Người có bệnh nền.
2. Tổ chức xe loa lưu động tại các thôn.
III. TỔ CHỨC THỰC HIỆN
Đài truyền thanh xã phát sóng mỗi ngày 2 lần, hoàn thành chậm nhất ngày 17/9/2021.
Trên đây là Kế hoạch tuyên truyền tiêm vắc xin phòng COVID-19 đợt 7 của UBND xã./.
Nơi nhận:
- UBND huyện (b/c);
- Trạm Y tế xã;
- Các thôn;
- Lưu: VT.
TM. ỦY BAN NHÂN DÂN
CHỦ TỊCH
Trần Văn Hùng
""",
    expected={
        "kind": "kế hoạch",
        "number": 45,
        "code": "KH-UBND",
        "issuer": "ỦY BAN NHÂN DÂN XÃ HÀM HIỆP",
        "parent_issuer": None,
        "place": "Hàm Hiệp",
        "date": "2021-09-10",
        "subject": "Tuyên truyền tiêm vắc xin phòng COVID-19 đợt 7 trên địa bàn xã",
        "urgency": None,
        "addressees": [],
        "distribution": ["UBND huyện (b/c)", "Trạm Y tế xã", "Các thôn", "Lưu: VT"],
        "signer_title": "TM. ỦY BAN NHÂN DÂN / CHỦ TỊCH",
        "signer_name": "Trần Văn Hùng",
        "cites": [
            {
                "kind": "kế hoạch",
                "number": 210,
                "code": "KH-UBND",
                "date": "2021-09-08",
                "issuer": "UBND huyện Hàm Thuận Bắc",
            }
        ],
        "contacts": [],
        "deadlines": [
            {
                "date": "2021-09-17",
                "time": None,
                "text": "Đài truyền thanh xã phát sóng mỗi ngày 2 lần, hoàn thành chậm nhất "
                "ngày 17/9/2021",
            }
        ],
    },
    points=[
        ("I.", 0),
        ("1.", 1),
        ("2.", 1),
        ("II.", 0),
        ("1.", 1),
        ("a)", 2),
        ("b)", 2),
        ("-", 3),
        ("-", 3),
        ("2.", 1),
        ("III.", 0),
    ],
    body_has=["về tiêm vắc xin phòng COVID-19 đợt 7; Ủy ban nhân dân xã"],
)

DEPARTMENT_THONG_BAO = Case(
    name="department_thong_bao_without_recipients",
    text="""UBND TỈNH BÌNH THUẬN
SỞ Y TẾ

Số: 2890/TB-SYT

CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc

Bình Thuận, ngày 2 tháng 9 năm 2021

THÔNG BÁO
Về việc tiếp nhận phản ánh của người dân về tiêm chủng

Sở Y tế thông báo đường dây nóng tiếp nhận phản ánh về tiêm chủng vắc xin phòng COVID-19:
- Đường dây nóng: 1900 9095 hoặc 0913 123 456 (bà Lê Thị Mai, Trưởng phòng Nghiệp vụ Y).
- Thư điện tử: tiemchung@syt.binhthuan.gov.vn.
- Trang thông tin điện tử: https://syt.binhthuan.gov.vn/tiem-chung.

Sở Y tế đề nghị Đài Phát thanh - Truyền hình tỉnh, Đài Truyền thanh các huyện, thị xã,
thành phố thông báo rộng rãi để người dân biết.

GIÁM ĐỐC

Nguyễn Quốc Việt
""",
    expected={
        "kind": "thông báo",
        "number": 2890,
        "code": "TB-SYT",
        "issuer": "SỞ Y TẾ",
        "parent_issuer": "UBND TỈNH BÌNH THUẬN",
        "place": "Bình Thuận",
        "date": "2021-09-02",
        "subject": "tiếp nhận phản ánh của người dân về tiêm chủng",
        "urgency": None,
        "addressees": [],
        "distribution": [],
        "signer_title": "GIÁM ĐỐC",
        "signer_name": "Nguyễn Quốc Việt",
        "cites": [],
        "contacts": [
            {"type": "phone", "value": "19009095", "text": "1900 9095", "name": None},
            {
                "type": "phone",
                "value": "0913123456",
                "text": "0913 123 456",
                "name": None,
            },
            {
                "type": "email",
                "value": "tiemchung@syt.binhthuan.gov.vn",
                "text": "tiemchung@syt.binhthuan.gov.vn",
                "name": None,
            },
            {
                "type": "url",
                "value": "https://syt.binhthuan.gov.vn/tiem-chung",
                "text": "https://syt.binhthuan.gov.vn/tiem-chung",
                "name": None,
            },
        ],
        "deadlines": [],
    },
    points=[("-", 0), ("-", 0), ("-", 0)],
    body_has=["Đài Truyền thanh các huyện, thị xã, thành phố thông báo rộng rãi"],
    body_lacks=["GIÁM ĐỐC", "Nguyễn Quốc Việt"],
)

PROVINCE_CHI_THI = Case(
    name="province_chi_thi_thuong_khan_at_top",
    text="""THƯỢNG KHẨN
ỦY BAN NHÂN DÂN
TỈNH BÌNH THUẬN
Số: 12/CT-UBND
CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc
Bình Thuận, ngày 20 tháng 7 năm 2021
CHỈ THỊ
Về việc thực hiện giãn cách xã hội trên địa bàn tỉnh
Thực hiện Chỉ thị số 16/CT-TTg ngày 31/3/2020 của Thủ tướng Chính phủ về thực hiện các
biện pháp cấp bách phòng, chống dịch COVID-19 và Nghị quyết số 86/NQ-CP ngày 06/8/2021 của
Chính phủ, Chủ tịch Ủy ban nhân dân tỉnh chỉ thị:
1. Thực hiện giãn cách xã hội trên toàn tỉnh từ 0 giờ ngày 21/7/2021.
2. Các đài truyền thanh cơ sở phát thông báo này liên tục trong 3 ngày đầu.
3. Các sở, ngành, địa phương báo cáo kết quả trước 16 giờ 00 ngày 23/7/2021.
Chủ tịch Ủy ban nhân dân tỉnh yêu cầu thủ trưởng các cơ quan nghiêm túc thực hiện Chỉ
thị này./.
Nơi nhận:
- Văn phòng Chính phủ (b/c);
- Bộ Y tế (b/c);
- Thường trực Tỉnh ủy, HĐND tỉnh;
- Các sở, ban, ngành;
- UBND các huyện, thị xã,
thành phố;
- Lưu: VT, KGVX.
TM. ỦY BAN NHÂN DÂN
CHỦ TỊCH
Lê Tuấn Phong
""",
    expected={
        "kind": "chỉ thị",
        "number": 12,
        "code": "CT-UBND",
        "issuer": "ỦY BAN NHÂN DÂN TỈNH BÌNH THUẬN",
        "parent_issuer": None,
        "date": "2021-07-20",
        "subject": "thực hiện giãn cách xã hội trên địa bàn tỉnh",
        "urgency": "THƯỢNG KHẨN",
        "addressees": [],
        "distribution": [
            "Văn phòng Chính phủ (b/c)",
            "Bộ Y tế (b/c)",
            "Thường trực Tỉnh ủy, HĐND tỉnh",
            "Các sở, ban, ngành",
            "UBND các huyện, thị xã, thành phố",
            "Lưu: VT, KGVX",
        ],
        "signer_title": "TM. ỦY BAN NHÂN DÂN / CHỦ TỊCH",
        "signer_name": "Lê Tuấn Phong",
        "cites": [
            {
                "kind": "chỉ thị",
                "number": 16,
                "code": "CT-TTg",
                "date": "2020-03-31",
                "issuer": "Thủ tướng Chính phủ",
            },
            {
                "kind": "nghị quyết",
                "number": 86,
                "code": "NQ-CP",
                "date": "2021-08-06",
                "issuer": "Chính phủ",
            },
        ],
        "deadlines": [
            {
                "date": "2021-07-23",
                "time": "16:00",
                "text": "Các sở, ngành, địa phương báo cáo kết quả trước 16 giờ 00 ngày 23/7/2021",
            }
        ],
    },
    points=[("1.", 0), ("2.", 0), ("3.", 0)],
    body_lacks=["THƯỢNG KHẨN"],
)

STEERING_QUYET_DINH = Case(
    name="steering_committee_quyet_dinh",
    text="""UBND HUYỆN BẮC BÌNH
BAN CHỈ ĐẠO PHÒNG, CHỐNG DỊCH
COVID-19

Số: 88/QĐ-BCĐ

CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc
---------------

Bắc Bình, ngày 25 tháng 8 năm 2021

QUYẾT ĐỊNH
Về việc thành lập Tổ tuyên truyền lưu động phòng, chống dịch COVID-19

TRƯỞNG BAN CHỈ ĐẠO PHÒNG, CHỐNG DỊCH COVID-19 HUYỆN BẮC BÌNH

Căn cứ Nghị định số 30/2020/NĐ-CP ngày 05/3/2020 của Chính phủ về công tác văn thư;
Căn cứ Quyết định số 2045/QĐ-UBND ngày 20/8/2021 của UBND tỉnh Bình Thuận về việc kiện toàn
Ban Chỉ đạo;
Theo đề nghị của Trung tâm Văn hóa - Thông tin huyện.

QUYẾT ĐỊNH:

Điều 1. Thành lập Tổ tuyên truyền lưu động gồm 5 thành viên.
Điều 2. Tổ có nhiệm vụ tuyên truyền bằng xe loa tại các xã, thị trấn.
Điều 3. Quyết định này có hiệu lực kể từ ngày ký./.

Nơi nhận:
- Như Điều 3;
- Lưu: VT.

KT. TRƯỞNG BAN
PHÓ TRƯỞNG BAN

(Đã ký)

Phạm Minh Đức
""",
    expected={
        "kind": "quyết định",
        "number": 88,
        "code": "QĐ-BCĐ",
        "issuer": "BAN CHỈ ĐẠO PHÒNG, CHỐNG DỊCH COVID-19",
        "parent_issuer": "UBND HUYỆN BẮC BÌNH",
        "place": "Bắc Bình",
        "date": "2021-08-25",
        "subject": "thành lập Tổ tuyên truyền lưu động phòng, chống dịch COVID-19",
        "urgency": None,
        "distribution": ["Như Điều 3", "Lưu: VT"],
        "signer_title": "KT. TRƯỞNG BAN / PHÓ TRƯỞNG BAN",
        "signer_name": "Phạm Minh Đức",
        "cites": [
            {
                "kind": "nghị định",
                "number": 30,
                "code": "2020/NĐ-CP",
                "date": "2020-03-05",
                "issuer": "Chính phủ",
            },
            {
                "kind": "quyết định",
                "number": 2045,
                "code": "QĐ-UBND",
                "date": "2021-08-20",
                "issuer": "UBND tỉnh Bình Thuận",
            },
        ],
        "deadlines": [],
    },
    points=[("Điều 1.", 0), ("Điều 2.", 0), ("Điều 3.", 0)],
    body_lacks=["TRƯỞNG BAN CHỈ ĐẠO PHÒNG, CHỐNG DỊCH COVID-19 HUYỆN BẮC BÌNH"],
)

NO_NUMBER = Case(
    name="cong_van_without_number",
    text="""UBND THÀNH PHỐ PHAN THIẾT
PHÒNG VĂN HÓA VÀ THÔNG TIN
Số:        /VHTT
V/v phát thanh lịch cắt điện
CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc
Phan Thiết, ngày    tháng 9 năm 2021
Kính gửi: Đài Truyền thanh thành phố Phan Thiết.
Đề nghị Đài phát lịch cắt điện tuần tới trong các buổi phát thanh sáng và chiều.
TRƯỞNG PHÒNG
Hồ Văn Nam
""",
    expected={
        "kind": "công văn",
        "number": None,
        "code": "VHTT",
        "issuer": "PHÒNG VĂN HÓA VÀ THÔNG TIN",
        "parent_issuer": "UBND THÀNH PHỐ PHAN THIẾT",
        "date": None,
        "subject": "phát thanh lịch cắt điện",
        "addressees": ["Đài Truyền thanh thành phố Phan Thiết"],
        "distribution": [],
        "signer_title": "TRƯỞNG PHÒNG",
        "signer_name": "Hồ Văn Nam",
    },
    body_has=["Đề nghị Đài phát lịch cắt điện tuần tới"],
)

STORM_CONG_DIEN = Case(
    name="district_cong_dien_hoa_toc_with_time",
    text="""UBND HUYỆN TUY PHONG
BAN CHỈ HUY PHÒNG, CHỐNG THIÊN TAI
VÀ TÌM KIẾM CỨU NẠN

Số: 07/CĐ-BCH

HỎA TỐC

CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc

Tuy Phong, ngày 14 tháng 10 năm 2021

CÔNG ĐIỆN
Về việc chủ động ứng phó với bão số 8

Ban Chỉ huy phòng, chống thiên tai và tìm kiếm cứu nạn huyện điện:
- Chủ tịch UBND các xã, thị trấn;
- Đài Truyền thanh huyện.

Để chủ động ứng phó với bão số 8, Ban Chỉ huy yêu cầu:
1. Đài truyền thanh các xã thông báo liên tục diễn biến của bão, hướng dẫn tàu thuyền vào
nơi tránh trú an toàn.
2. Các xã báo cáo số tàu thuyền đã vào bờ chậm nhất 17 giờ ngày 15/10/2021 qua số
điện thoại trực ban 0252 3850 111.

Nơi nhận:
- Như trên;
- Lưu: VT.
KT. TRƯỞNG BAN
PHÓ TRƯỞNG BAN THƯỜNG TRỰC
Đặng Hữu Tài
""",
    expected={
        "kind": "công điện",
        "number": 7,
        "code": "CĐ-BCH",
        "issuer": "BAN CHỈ HUY PHÒNG, CHỐNG THIÊN TAI VÀ TÌM KIẾM CỨU NẠN",
        "parent_issuer": "UBND HUYỆN TUY PHONG",
        "place": "Tuy Phong",
        "date": "2021-10-14",
        "subject": "chủ động ứng phó với bão số 8",
        "urgency": "HỎA TỐC",
        "distribution": ["Như trên", "Lưu: VT"],
        "signer_title": "KT. TRƯỞNG BAN / PHÓ TRƯỞNG BAN THƯỜNG TRỰC",
        "signer_name": "Đặng Hữu Tài",
        "contacts": [
            {"type": "phone", "value": "02523850111", "text": "0252 3850 111", "name": None}
        ],
        "deadlines": [
            {
                "date": "2021-10-15",
                "time": "17:00",
                "text": "Các xã báo cáo số tàu thuyền đã vào bờ chậm nhất 17 giờ ngày 15/10/2021 "
                "qua số điện thoại trực ban 0252 3850 111",
            }
        ],
    },
    points=[("-", 1), ("-", 1), ("1.", 0), ("2.", 0)],
)

SECRET_CONG_VAN = Case(
    name="culture_centre_cong_van_secret_plus_items",
    text="""UBND THỊ XÃ LA GI
TRUNG TÂM VĂN HÓA - THÔNG TIN
VÀ THỂ THAO
Số: 35/TTVH-TT
V/v phối hợp phát sóng chương trình
Ngày hội Đại đoàn kết toàn dân tộc
CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc
La Gi, ngày 3 tháng 11 năm 2021
MẬT
Kính gửi:
+ Đài Truyền thanh các phường;
+ Đài Truyền thanh các xã.
Trung tâm đề nghị các đài phát chương trình vào các ngày 15 và 16/11/2021, gửi lịch phát về
Trung tâm không quá ngày 12/11 qua địa chỉ www.lagi.binhthuan.gov.vn hoặc zalo 0988 777 666
(anh Võ Thành).
Trân trọng./.
Nơi nhận:
- Như trên;
- Lưu: VT.
GIÁM ĐỐC
Huỳnh Ngọc Ánh
""",
    expected={
        "kind": "công văn",
        "number": 35,
        "code": "TTVH-TT",
        "issuer": "TRUNG TÂM VĂN HÓA - THÔNG TIN VÀ THỂ THAO",
        "parent_issuer": "UBND THỊ XÃ LA GI",
        "place": "La Gi",
        "date": "2021-11-03",
        "subject": "phối hợp phát sóng chương trình Ngày hội Đại đoàn kết toàn dân tộc",
        "urgency": None,
        "addressees": ["Đài Truyền thanh các phường", "Đài Truyền thanh các xã"],
        "distribution": ["Như trên", "Lưu: VT"],
        "signer_title": "GIÁM ĐỐC",
        "signer_name": "Huỳnh Ngọc Ánh",
        "contacts": [
            {
                "type": "url",
                "value": "www.lagi.binhthuan.gov.vn",
                "text": "www.lagi.binhthuan.gov.vn",
                "name": None,
            },
            {
                "type": "phone",
                "value": "0988777666",
                "text": "0988 777 666",
                "name": None,
            },
        ],
        "deadlines": [
            {
                "date": "2021-11-12",
                "time": None,
                "text": "Trung tâm đề nghị các đài phát chương trình vào các ngày 15 và "
                "16/11/2021, gửi lịch phát về Trung tâm không quá ngày 12/11 qua địa chỉ "
                "www.lagi.binhthuan.gov.vn hoặc zalo 0988 777 666 (anh Võ Thành)",
            }
        ],
    },
    body_lacks=["Trân trọng"],
)

COMMUNE_THONG_BAO = Case(
    name="commune_thong_bao_no_kinh_gui_no_noi_nhan",
    text="""ỦY BAN NHÂN DÂN
XÃ PHƯỚC THỂ
Số: 19/TB-UBND
CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc
Phước Thể, ngày 05 tháng 9 năm 2021
THÔNG BÁO
Lịch tiêm vắc xin phòng COVID-19 tại Trạm Y tế xã
Ủy ban nhân dân xã thông báo đến toàn thể nhân dân: ngày 08/9/2021 Trạm Y tế xã tổ chức tiêm
vắc xin cho người từ 18 tuổi trở lên tại thôn Lạc Trị và thôn Lạc Nghiệp.
Người dân mang theo căn cước công dân và khai báo y tế trước khi đến điểm tiêm.
TM. ỦY BAN NHÂN DÂN
KT. CHỦ TỊCH
PHÓ CHỦ TỊCH
Lâm Thị Hoa
""",
    expected={
        "kind": "thông báo",
        "number": 19,
        "code": "TB-UBND",
        "issuer": "ỦY BAN NHÂN DÂN XÃ PHƯỚC THỂ",
        "parent_issuer": None,
        "place": "Phước Thể",
        "date": "2021-09-05",
        "subject": "Lịch tiêm vắc xin phòng COVID-19 tại Trạm Y tế xã",
        "addressees": [],
        "distribution": [],
        "signer_title": "TM. ỦY BAN NHÂN DÂN / KT. CHỦ TỊCH / PHÓ CHỦ TỊCH",
        "signer_name": "Lâm Thị Hoa",
        "cites": [],
        "deadlines": [],
    },
    points=[],
    body_has=[
        "tổ chức tiêm vắc xin cho người từ 18 tuổi trở lên",
        "Người dân mang theo căn cước công dân",
    ],
)

COLUMNS_RUN_TOGETHER = Case(
    name="ward_cong_van_header_columns_run_together",
    text="""ỦY BAN NHÂN DÂN CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
PHƯỜNG ĐỨC THẮNG Độc lập - Tự do - Hạnh phúc
Số: 210/UBND-VP Phan Thiết, ngày 9 tháng 9 năm 2021
V/v thông báo lịch lấy mẫu xét nghiệm
Kính gửi:
- Ban điều hành các khu phố;
- Tổ COVID cộng đồng.
Ủy ban nhân dân phường thông báo lịch lấy mẫu xét nghiệm diện rộng vào ngày 11/9/2021 tại
nhà văn hóa các khu phố. Đề nghị các khu phố thông tin đến từng hộ dân.

- 2 -

Ban điều hành các khu phố báo cáo danh sách người chưa xét nghiệm trước ngày 12/9/2021.
Nơi nhận: TM. ỦY BAN NHÂN DÂN
- Như trên; CHỦ TỊCH
- Lưu: VT.
Bùi Quang Sáng
""",
    expected={
        "kind": "công văn",
        "number": 210,
        "code": "UBND-VP",
        "issuer": "ỦY BAN NHÂN DÂN PHƯỜNG ĐỨC THẮNG",
        "parent_issuer": None,
        "place": "Phan Thiết",
        "date": "2021-09-09",
        "subject": "thông báo lịch lấy mẫu xét nghiệm",
        "addressees": ["Ban điều hành các khu phố", "Tổ COVID cộng đồng"],
        "distribution": ["Như trên", "Lưu: VT"],
        "signer_title": "TM. ỦY BAN NHÂN DÂN / CHỦ TỊCH",
        "signer_name": "Bùi Quang Sáng",
        "deadlines": [
            {
                "date": "2021-09-12",
                "time": None,
                "text": "Ban điều hành các khu phố báo cáo danh sách người chưa xét nghiệm "
                "trước ngày 12/9/2021",
            }
        ],
    },
    body_lacks=["- 2 -"],
)

DISTRICT_KE_HOACH_WITH_ANNEX = Case(
    name="district_ke_hoach_two_line_subject_joint_issuers_annex",
    text="""ỦY BAN NHÂN DÂN
HUYỆN TUY PHONG
Số: 88/KH-UBND
CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc
Tuy Phong, ngày 5 tháng 10 năm 2021
KẾ HOẠCH
Tuyên truyền phòng, chống dịch COVID-19
Trên địa bàn huyện trong tình hình mới
Căn cứ Công văn số 310/SVHTTDL-QLVH ngày 01/10/2021 của Sở Văn hóa, Thể thao và Du lịch
về tuyên truyền phòng, chống dịch;
Căn cứ Quyết định số 12/QĐ-UBND ngày 2/10/2021 của Ủy ban nhân dân tỉnh, Ban Chỉ đạo
phòng, chống dịch tỉnh về việc ban hành quy chế;
Thực hiện Công văn số 77/UBND-VX ngày 3/10/2021 của UBND huyện, Ủy ban MTTQVN huyện về
tuyên truyền;
Thực hiện Công văn số 80/SYT-NVY ngày 4/10/2021 của Sở Y tế, Trung tâm Y tế huyện đề
nghị các xã phối hợp như sau:
1. Đài truyền thanh các xã phát thông điệp 5K mỗi ngày 2 lần.
2. Các xã báo cáo kết quả về Phòng Văn hóa và Thông tin trong ngày 15/10/2021.
3. Trung tâm Văn hóa huyện gửi báo cáo tổng hợp về UBND huyện ngày 25/10/2021.
Nơi nhận:
- Sở VHTTDL (b/c);
- Lưu: VT.
TM. ỦY BAN NHÂN DÂN
KT. CHỦ TỊCH
PHÓ CHỦ TỊCH
Nguyễn Thị Mai
PHỤ LỤC
DANH SÁCH CÁC ĐIỂM TREO BĂNG RÔN
(Kèm theo Kế hoạch số 88/KH-UBND)
- Thị trấn Liên Hương;
- Xã Phước Thể.
""",
    expected={
        "kind": "kế hoạch",
        "number": 88,
        "code": "KH-UBND",
        "issuer": "ỦY BAN NHÂN DÂN HUYỆN TUY PHONG",
        "place": "Tuy Phong",
        "date": "2021-10-05",
        # The subject's second line starts with a capital and is still the subject.
        "subject": "Tuyên truyền phòng, chống dịch COVID-19 Trên địa bàn huyện trong tình hình mới",
        "distribution": ["Sở VHTTDL (b/c)", "Lưu: VT"],
        # The annex after the signer's name is neither a title nor a distribution entry.
        "signer_title": "TM. ỦY BAN NHÂN DÂN / KT. CHỦ TỊCH / PHÓ CHỦ TỊCH",
        "signer_name": "Nguyễn Thị Mai",
        "cites": [
            {
                "kind": "công văn",
                "number": 310,
                "code": "SVHTTDL-QLVH",
                "date": "2021-10-01",
                "issuer": "Sở Văn hóa, Thể thao và Du lịch",
            },
            {
                "kind": "quyết định",
                "number": 12,
                "code": "QĐ-UBND",
                "date": "2021-10-02",
                "issuer": "Ủy ban nhân dân tỉnh, Ban Chỉ đạo phòng, chống dịch tỉnh",
            },
            {
                "kind": "công văn",
                "number": 77,
                "code": "UBND-VX",
                "date": "2021-10-03",
                "issuer": "UBND huyện, Ủy ban MTTQVN huyện",
            },
            {
                # After the comma the sentence's own subject begins: not a second issuer.
                "kind": "công văn",
                "number": 80,
                "code": "SYT-NVY",
                "date": "2021-10-04",
                "issuer": "Sở Y tế",
            },
        ],
        "deadlines": [
            {
                "date": "2021-10-15",
                "time": None,
                "text": "Các xã báo cáo kết quả về Phòng Văn hóa và Thông tin trong ngày "
                "15/10/2021",
            },
            {
                "date": "2021-10-25",
                "time": None,
                "text": "Trung tâm Văn hóa huyện gửi báo cáo tổng hợp về UBND huyện ngày "
                "25/10/2021",
            },
        ],
    },
    points=[("1.", 0), ("2.", 0), ("3.", 0)],
    body_lacks=["PHỤ LỤC", "Liên Hương"],
)

CASES = [
    DISTRICT_CONG_VAN,
    COMMUNE_KE_HOACH,
    DEPARTMENT_THONG_BAO,
    PROVINCE_CHI_THI,
    STEERING_QUYET_DINH,
    NO_NUMBER,
    STORM_CONG_DIEN,
    SECRET_CONG_VAN,
    COMMUNE_THONG_BAO,
    COLUMNS_RUN_TOGETHER,
    DISTRICT_KE_HOACH_WITH_ANNEX,
]


# A dispatch laid out as NĐ 30 draws it, for render_columns_pdf: the header's and the
# signature's two columns side by side on the same baselines.
COLUMNS = dict(
    head=[
        ("UBND HUYỆN HÀM TÂN", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
        ("TRUNG TÂM VĂN HÓA - THÔNG TIN", "Độc lập - Tự do - Hạnh phúc"),
        ("Số: 77/TTVHTT-NV", "Hàm Tân, ngày 8 tháng 9 năm 2021"),
        ("V/v phát thanh lịch tiêm chủng", "KHẨN"),
    ],
    body=[
        "Kính gửi: Đài Truyền thanh các xã, thị trấn.",
        "Trung tâm đề nghị các đài phát lịch tiêm chủng mỗi ngày hai lần, báo cáo",
        "kết quả trước ngày 10/9/2021./.",
    ],
    tail=[
        ("Nơi nhận:", "GIÁM ĐỐC"),
        ("- Như trên;", ""),
        ("- Lưu: VT.", "Trần Minh Quang"),
    ],
)
