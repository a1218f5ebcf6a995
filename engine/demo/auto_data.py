"""The auto demo's fixed facts: the brand 华星汽车 and its dealer network, the people who
sign in, the model range, and the vocabulary the seed draws customers, notes and workshop
jobs from. Everything here is fictional; competitor brands appear only where a lost lead
names what the customer bought instead."""

from __future__ import annotations

from dataclasses import dataclass

from engine.demo.common import DemoUser

__all__ = [
    "DEALERS",
    "DEMO_USERS",
    "MODELS",
    "UNITS",
    "Dealer",
    "Model",
    "Trim",
    "Unit",
]

PASSWORD = "metacrm-demo"
ADMIN_PASSWORD = "metacrm-admin"


@dataclass(frozen=True)
class Unit:
    key: str
    name: str
    code: str
    kind: str
    parent: str | None
    province: str | None = None
    city: str | None = None
    phone: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Dealer:
    """A dealer's business settings and how busy it is (its share of the leads)."""

    key: str
    partner_code: str
    plate_prefix: str
    discount_threshold: int  # % above which the dealer GM approves an order's discount
    regional_threshold: int  # % above which the OEM regional manager approves as well
    share: float
    districts: tuple[str, ...]


UNITS = (
    Unit("brand", "华星汽车", "HX", "brand", None, "shanghai", "上海"),
    Unit("east", "华东大区", "HX-E", "region", "brand", "shanghai", "上海"),
    Unit("south", "华南大区", "HX-S", "region", "brand", "guangdong", "广州"),
    Unit("pudong", "上海浦东4S店", "HX-E-SH01", "dealer", "east", "shanghai", "上海",
         "021-58886688", "上海市浦东新区龙阳路 2288 号"),
    Unit("xihu", "杭州西湖4S店", "HX-E-HZ01", "dealer", "east", "zhejiang", "杭州",
         "0571-87996688", "杭州市西湖区文一西路 1166 号"),
    Unit("tianhe", "广州天河4S店", "HX-S-GZ01", "dealer", "south", "guangdong", "广州",
         "020-38886688", "广州市天河区黄埔大道西 638 号"),
)  # fmt: skip
UNIT_NAMES = {unit.key: unit.name for unit in UNITS}

DEALERS = (
    Dealer("pudong", "D-SH01", "沪A", 5, 10, 0.40, ("浦东新区", "闵行区", "徐汇区", "黄浦区")),
    Dealer("xihu", "D-HZ01", "浙A", 4, 8, 0.30, ("西湖区", "余杭区", "拱墅区", "滨江区")),
    Dealer("tianhe", "D-GZ01", "粤A", 6, 12, 0.30, ("天河区", "越秀区", "海珠区", "番禺区")),
)

DEMO_USERS = (
    DemoUser("admin", ADMIN_PASSWORD, "系统管理员", ("administrator",), "brand"),
    DemoUser("hq", PASSWORD, "孙立华", ("oem_headquarters",), "brand"),
    DemoUser("east.rm", PASSWORD, "陈强", ("oem_regional_manager",), "east"),
    DemoUser("south.rm", PASSWORD, "黄志明", ("oem_regional_manager",), "south"),
    DemoUser("pudong.gm", PASSWORD, "王伟", ("dealer_general_manager",), "pudong"),
    DemoUser("pudong.manager", PASSWORD, "刘芳", ("showroom_manager",), "pudong"),
    DemoUser("pudong.sales1", PASSWORD, "李娜", ("sales_consultant",), "pudong"),
    DemoUser("pudong.sales2", PASSWORD, "张磊", ("sales_consultant",), "pudong"),
    DemoUser("pudong.sales3", PASSWORD, "赵敏", ("sales_consultant",), "pudong"),
    DemoUser("pudong.service", PASSWORD, "吴涛", ("service_advisor",), "pudong"),
    DemoUser("xihu.gm", PASSWORD, "徐建华", ("dealer_general_manager",), "xihu"),
    DemoUser("xihu.manager", PASSWORD, "朱丽", ("showroom_manager",), "xihu"),
    DemoUser("xihu.sales1", PASSWORD, "何俊", ("sales_consultant",), "xihu"),
    DemoUser("xihu.sales2", PASSWORD, "林静", ("sales_consultant",), "xihu"),
    DemoUser("xihu.service", PASSWORD, "郭亮", ("service_advisor",), "xihu"),
    DemoUser("tianhe.gm", PASSWORD, "梁国栋", ("dealer_general_manager",), "tianhe"),
    DemoUser("tianhe.manager", PASSWORD, "陈慧", ("showroom_manager",), "tianhe"),
    DemoUser("tianhe.sales1", PASSWORD, "黄嘉豪", ("sales_consultant",), "tianhe"),
    DemoUser("tianhe.sales2", PASSWORD, "罗婷", ("sales_consultant",), "tianhe"),
    DemoUser("tianhe.sales3", PASSWORD, "冯子健", ("sales_consultant",), "tianhe"),
    DemoUser("tianhe.service", PASSWORD, "邓伟", ("service_advisor",), "tianhe"),
)


@dataclass(frozen=True)
class Trim:
    name: str  # after the model year, e.g. "1.5T 两驱精英版"
    code: str
    msrp: int
    drive: str
    vds: str  # VIN positions 4-8
    seats: int = 5
    range_km: int | None = None
    highlights: str = ""


@dataclass(frozen=True)
class Model:
    name: str
    code: str
    series: str
    body_type: str
    powertrain: str
    engine_prefix: str  # engine / motor numbers start with it
    share: float  # of the showroom's interest
    selling_points: str
    trims: tuple[Trim, ...]


MODELS = (
    Model(
        "华星 星驰", "XC", "星驰", "suv", "ice", "HX20T", 0.45,
        "中型 SUV，2.0T + 8AT，L2 级辅助驾驶，五年或十万公里整车质保。",
        (
            Trim("1.5T 两驱精英版", "XC-15T-FWD-ELT", 149800, "fwd", "SC15F",
                 highlights="12.3 英寸双联屏、全景影像、无钥匙进入"),
            Trim("2.0T 四驱豪华版", "XC-20T-AWD-LUX", 189800, "awd", "SC20A",
                 highlights="智能四驱、真皮座椅、座椅加热通风、HUD"),
            Trim("2.0T 四驱旗舰版", "XC-20T-AWD-FLG", 219800, "awd", "SC20L", seats=7,
                 highlights="七座布局、空气悬架、20 英寸轮毂、高阶辅助驾驶"),
        ),
    ),
    Model(
        "华星 星悦", "XY", "星悦", "sedan", "hev", "HX15H", 0.25,
        "紧凑型轿车，1.5L 双擎混动，百公里油耗 4.2 升。",
        (
            Trim("1.5L 双擎舒适版", "XY-HEV-CMF", 119800, "fwd", "SY15C",
                 highlights="E-CVT、10.25 英寸中控屏、自适应巡航"),
            Trim("1.5L 双擎豪华版", "XY-HEV-LUX", 136800, "fwd", "SY15L",
                 highlights="电动天窗、无线充电、360 度全景影像"),
        ),
    ),
    Model(
        "华星 星澜 EV", "XL", "星澜", "suv", "bev", "TZ220", 0.30,
        "纯电中型 SUV，800V 高压快充，充电 15 分钟续航 400 公里。",
        (
            Trim("520km 后驱标准续航版", "XL-520-RWD", 159800, "rwd", "EL52R",
                 range_km=520, highlights="800V 快充、15.6 英寸中控屏、热泵空调"),
            Trim("650km 后驱长续航版", "XL-650-RWD", 182800, "rwd", "EL65R",
                 range_km=650, highlights="大电池、城市领航辅助、电动尾门"),
            Trim("600km 四驱性能版", "XL-600-AWD", 215800, "awd", "EL60A",
                 range_km=600, highlights="双电机四驱、零百加速 3.9 秒、Brembo 卡钳"),
        ),
    ),
)  # fmt: skip

WMI = "LHX"  # fictional maker code (L: made in China)
PLANT = "N"

# -- people ------------------------------------------------------------------------------

SURNAMES = (
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡",
    "郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
    "彭", "曾", "肖", "田", "董", "袁", "潘", "蒋", "蔡", "余", "杜", "叶", "程", "魏", "苏",
)  # fmt: skip
MALE_GIVEN = (
    "伟", "强", "磊", "军", "勇", "杰", "涛", "明", "超", "刚", "平", "辉", "鹏", "华", "飞",
    "浩", "宇", "俊", "帅", "斌", "建国", "志强", "海峰", "晓东", "子轩", "宇航", "浩然",
    "文博", "建军", "国庆", "振华", "嘉豪", "俊杰", "天佑", "思远",
)  # fmt: skip
FEMALE_GIVEN = (
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "婷", "雪", "琳", "颖", "倩", "洁", "慧",
    "晓燕", "丽娟", "雅婷", "欣怡", "梦琪", "思雨", "佳怡", "诗涵", "雨萱", "婉清", "秀英",
)  # fmt: skip
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "155", "156", "157", "158", "159", "166", "173", "177", "180", "181", "182", "183",
    "185", "186", "187", "188", "189", "191", "198", "199",
)  # fmt: skip

# -- the showroom ------------------------------------------------------------------------

#: How leads reach a dealer. Online ones come from the brand's lead centre (厂家下发).
SOURCES = (
    ("store_walk_in", 0.30),
    ("autohome", 0.14),
    ("dongchedi", 0.12),
    ("website", 0.10),
    ("yiche", 0.07),
    ("douyin", 0.05),
    ("exhibition", 0.09),
    ("hotline", 0.05),
    ("referral", 0.025),
    ("wechat_mini_program", 0.03),
)
ONLINE_SOURCES = {"autohome", "dongchedi", "website", "yiche", "douyin", "wechat_mini_program"}
SOURCE_DETAILS = {
    "autohome": ("汽车之家 询底价", "汽车之家 预约试驾", "汽车之家 车型对比页"),
    "dongchedi": ("懂车帝 询价", "懂车帝 直播间留资", "懂车帝 预约试驾"),
    "website": ("官网 预约试驾", "官网 在线订车咨询", "官网 金融计算器"),
    "yiche": ("易车 询底价", "易车 置换评估"),
    "douyin": ("抖音 本地生活团购", "抖音 直播间留资"),
    "wechat_mini_program": ("华星汽车小程序 预约到店",),
    "exhibition": ("广州国际车展 展台留资", "上海国际车展 展台留资", "杭州车展 展台留资"),
    "hotline": ("400 热线来电",),
}

COLOURS = (("white", 0.32), ("black", 0.24), ("grey", 0.16), ("silver", 0.10),
           ("blue", 0.09), ("red", 0.05), ("green", 0.04))  # fmt: skip

TRADE_INS = (
    ("大众 朗逸 1.5L", 2016, 98000, 32000),
    ("丰田 卡罗拉 1.2T", 2017, 86000, 45000),
    ("本田 思域 1.5T", 2018, 72000, 58000),
    ("日产 轩逸 1.6L", 2015, 120000, 26000),
    ("别克 英朗 1.5L", 2017, 91000, 30000),
    ("大众 帕萨特 1.8T", 2016, 110000, 52000),
    ("哈弗 H6 1.5T", 2018, 88000, 41000),
)

COMPETITORS = (
    "比亚迪 宋PLUS DM-i", "特斯拉 Model Y", "丰田 RAV4 荣放", "本田 CR-V", "吉利 星越L",
    "理想 L6", "大众 途观L", "小鹏 G6", "零跑 C11", "长安 CS75 PLUS",
)  # fmt: skip

CONTACT_NOTES = (
    "客户到店看车，重点关注空间与油耗，约了周末带家人再来。",
    "电话沟通，客户对比了两款竞品，想了解本月金融政策。",
    "微信已添加，发送了车型配置表和本月优惠。",
    "客户首次购车，预算 15 万左右，倾向 SUV。",
    "客户为家庭增购第二台车，关注安全配置与售后。",
    "客户有旧车置换需求，已约评估师看车。",
    "客户关心充电桩安装和电池质保政策。",
    "客户询问现车颜色与提车周期。",
)
DRIVE_FEEDBACK = (
    "动力响应积极，隔音比预期好，客户很满意。",
    "客户认为底盘扎实，对辅助驾驶印象深刻。",
    "家人试乘后觉得后排空间宽敞，座椅舒适。",
    "客户对加速和静谧性满意，关注续航真实表现。",
    "客户觉得方向盘偏轻，其他方面满意。",
    "试驾后客户意向明显提升，询问提车时间。",
)
APPROVAL_REASONS = (
    "客户已拿到竞品报价，差价 8000 元，申请额外优惠促成当月成交。",
    "老客户增购，申请特批优惠以维护客户关系。",
    "月底冲量，客户当天可交全款，申请特价。",
    "置换客户，旧车估价偏低，申请补贴差额。",
)
DELIVERY_FEEDBACK = (
    "交车仪式很温馨，讲解细致，非常满意。",
    "提车顺利，车况完美，感谢销售顾问的耐心。",
    "等待时间略长，其余都很满意。",
    "顾问讲解了所有功能，手续办理很快。",
)
FINANCE_PROVIDERS = ("华星汽车金融", "招商银行信用卡分期", "平安银行汽车贷款")

# -- the workshop ------------------------------------------------------------------------

#: Parts and labour of a routine service: (part number, name, unit price, quantity).
SERVICE_PARTS = (
    ("HX-15400-0W20", "全合成机油 0W-20（1L）", 98, 4),
    ("HX-15208-65F0", "机油滤清器", 68, 1),
    ("HX-16546-AA10", "空气滤清器", 120, 1),
)
EV_SERVICE_PARTS = (
    ("HX-27277-4M40", "空调滤芯（活性炭）", 150, 1),
    ("HX-44011-BF02", "制动液 DOT4（1L）", 78, 1),
)
SERVICE_LABOUR = (
    ("LB-MNT-01", "常规保养工时", 1.0, 220),
    ("LB-CHK-02", "全车安全检查", 0.5, 220),
)
REPAIRS = (
    # service type, customer's words, diagnosis, parts, labour, work summary
    (
        "repair",
        "空调制冷效果差，出风不凉。",
        "空调系统冷媒不足，低压管接头轻微渗漏。",
        (
            ("HX-92490-AC01", "空调低压管 O 型密封圈", 35, 2),
            ("HX-R134A-500", "R1234yf 冷媒（500g）", 380, 1),
        ),
        (("LB-AC-05", "空调系统检漏与加注", 1.5, 260),),
        "更换低压管密封圈，抽真空并加注冷媒，出风口温度 6℃，恢复正常。",
    ),
    (
        "repair",
        "左前门关门有异响。",
        "左前门限位器磨损。",
        (("HX-80430-DL01", "左前门限位器", 260, 1),),
        (("LB-BD-03", "车门限位器更换", 0.8, 240),),
        "更换左前门限位器并润滑铰链，异响消除。",
    ),
    (
        "bodywork",
        "倒车时右后保险杠刮擦。",
        "右后保险杠漆面刮伤约 20cm，无结构损伤。",
        (("HX-PNT-SV01", "原厂面漆（单面）", 650, 1),),
        (("LB-PT-01", "右后保险杠钣金喷漆", 4.0, 260),),
        "右后保险杠打磨、喷漆、抛光，颜色比对一致。",
    ),
    (
        "warranty",
        "中控屏偶发黑屏重启。",
        "车机软件版本过旧，日志显示多媒体主机异常重启。",
        (),
        (("LB-SW-01", "车机系统升级与诊断", 1.0, 0),),
        "升级车机系统至最新版本，路试 20 公里未再复现（质保）。",
    ),
    (
        "repair",
        "刹车时有尖锐异响。",
        "前刹车片磨损至极限。",
        (("HX-04465-BP01", "前刹车片（套）", 680, 1),),
        (("LB-BR-02", "前刹车片更换", 1.2, 240),),
        "更换前刹车片，清洁卡钳，路试制动正常无异响。",
    ),
)
SUMMARY = "完成常规保养：更换机油、机滤与空气滤清器，检查底盘、灯光与轮胎，复位保养提示。"
EV_SUMMARY = "完成纯电车型保养：更换空调滤芯与制动液，检测电池健康度（SOH 98%）与冷却系统。"
CALLBACK_OUTCOMES = (
    "客户表示满意，无其他需求。",
    "客户对服务满意，建议增加休息区充电口。",
    "客户满意，已预约下次保养提醒。",
)
SURVEY_OUTCOMES = (
    "客户对交车流程非常满意，已邀请加入车主群。",
    "客户满意，询问首保时间，已告知。",
    "客户满意，表示愿意推荐朋友来店。",
)
