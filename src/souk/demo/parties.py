"""The demo's people, organisations and stores.

Each trade model has a list of stores in the order they are used: the small demo takes the first one of
each, the full demo takes them all. The first store of each model belongs to a demo account that is printed
by ``souk demo`` so people can log in as a seller of that model.
"""

from __future__ import annotations

from dataclasses import dataclass

DEMO_DOMAIN = "demo.example.com"
DEMO_PASSWORD = "souk-demo-2026"


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    name: str
    country: str
    # what to look at when logged in as this account
    what: str


OPERATOR = DemoAccount("Operator", f"operator@{DEMO_DOMAIN}", "Olga Petrova", "GB", "ops console at /ops")
BUYER = DemoAccount("Buyer", f"buyer@{DEMO_DOMAIN}", "Amira Haddad", "FR", "search, compare, browse stores")
MARKET_SELLER = DemoAccount(
    "Market seller", f"market@{DEMO_DOMAIN}", "Xiaoyu Chen", "CN", "Xiaoyu's Handmade Corner"
)
SOURCING_SELLER = DemoAccount(
    "Sourcing seller", f"sourcing@{DEMO_DOMAIN}", "Li Wei", "CN", "Brightway Electronics"
)
MALL_SELLER = DemoAccount("Mall seller", f"mall@{DEMO_DOMAIN}", "Zhang Min", "CN", "Lumora Official Store")
GLOBAL_SELLER = DemoAccount(
    "Global seller", f"global@{DEMO_DOMAIN}", "Anna Becker", "DE", "Hanseatic Goods (EUR)"
)
DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    BUYER,
    MARKET_SELLER,
    SOURCING_SELLER,
    MALL_SELLER,
    GLOBAL_SELLER,
    OPERATOR,
)


@dataclass(frozen=True)
class OrgSpec:
    legal_name: str
    country: str
    city: str
    address: str
    owner_name: str
    status: str = "approved"


@dataclass(frozen=True)
class StoreSpec:
    name: str
    trade_model: str
    country: str
    city: str
    currency: str
    departments: tuple[str, ...]
    blurb: str
    org: OrgSpec | None = None
    owner_name: str | None = None
    brand_name: str | None = None
    status: str = "active"
    # the demo account that owns it (market: the owner; business: the organisation's owner)
    account: DemoAccount | None = None


def _org(legal: str, country: str, city: str, street: str, owner: str, status: str = "approved") -> OrgSpec:
    return OrgSpec(legal, country, city, f"{street}, {city}", owner, status)


SOURCING_STORES: tuple[StoreSpec, ...] = (
    StoreSpec(
        "Brightway Electronics",
        "sourcing",
        "CN",
        "Shenzhen",
        "USD",
        ("Electronics",),
        "Phone accessories, audio and smart-home devices from our own SMT lines in Bao'an. OEM since 2009.",
        org=_org(
            "Shenzhen Brightway Electronics Co., Ltd.",
            "CN",
            "Shenzhen",
            "88 Xixiang Avenue, Bao'an",
            "Li Wei",
        ),
        account=SOURCING_SELLER,
    ),
    StoreSpec(
        "Sunrise Home Products",
        "sourcing",
        "CN",
        "Yiwu",
        "USD",
        ("Home & Kitchen", "Toys & Games"),
        "Kitchenware, tableware and storage for importers and chain stores. Mixed containers welcome.",
        org=_org(
            "Yiwu Sunrise Home Products Co., Ltd.", "CN", "Yiwu", "1200 Chouzhou North Road", "Wang Fang"
        ),
    ),
    StoreSpec(
        "Silkroad Apparel",
        "sourcing",
        "CN",
        "Guangzhou",
        "USD",
        ("Fashion",),
        "Knit and woven garments, private label from 300 pieces per colour. BSCI audited.",
        org=_org(
            "Guangzhou Silkroad Apparel Co., Ltd.", "CN", "Guangzhou", "36 Zhongshan Road, Haizhu", "Chen Jie"
        ),
    ),
    StoreSpec(
        "Ironclad Tools",
        "sourcing",
        "CN",
        "Ningbo",
        "USD",
        ("Industrial & Tools", "Automotive"),
        "Hand tools, power tools and fasteners for hardware chains. ISO 9001, own forging plant.",
        org=_org(
            "Ningbo Ironclad Tools Co., Ltd.", "CN", "Ningbo", "15 Yinxian Avenue, Yinzhou", "Zhou Qiang"
        ),
    ),
    StoreSpec(
        "Summit Outdoor",
        "sourcing",
        "CN",
        "Xiamen",
        "CNY",
        ("Sports & Outdoors",),
        "Tents, sleeping bags and fitness gear for outdoor brands. Prices in RMB, FOB Xiamen.",
        org=_org("Xiamen Summit Outdoor Co., Ltd.", "CN", "Xiamen", "9 Huli Industrial Park", "Lin Na"),
    ),
    StoreSpec(
        "Happy Kids Toys",
        "sourcing",
        "CN",
        "Shantou",
        "USD",
        ("Toys & Games",),
        "EN 71 and ASTM tested toys from Chenghai, the toy capital of China.",
        org=_org(
            "Shantou Happy Kids Toys Co., Ltd.", "CN", "Shantou", "3 Toy City Road, Chenghai", "Huang Lei"
        ),
    ),
    StoreSpec(
        "Saigon Thread Garment",
        "sourcing",
        "VN",
        "Ho Chi Minh City",
        "USD",
        ("Fashion",),
        "Cut-make-trim garment factory with 600 sewers. WRAP certified, duty-free to the EU under EVFTA.",
        org=_org(
            "Saigon Thread Garment Co., Ltd.",
            "VN",
            "Ho Chi Minh City",
            "120 Tân Bình Industrial Zone",
            "Nguyễn Thị Lan",
        ),
    ),
    StoreSpec(
        "Hanoi Bamboo Craft",
        "sourcing",
        "VN",
        "Hanoi",
        "USD",
        ("Home & Kitchen",),
        "Bamboo and rattan homeware woven by craft villages around Hanoi.",
        org=_org("Hanoi Bamboo Craft JSC", "VN", "Hanoi", "45 Phú Vinh Village, Chương Mỹ", "Trần Văn Minh"),
    ),
    StoreSpec(
        "Denizli Cotton Textiles",
        "sourcing",
        "TR",
        "Denizli",
        "EUR",
        ("Home & Kitchen", "Fashion"),
        "Turkish cotton bedding, towels and basics. OEKO-TEX certified mill, prices in EUR.",
        org=_org(
            "Denizli Cotton Tekstil A.Ş.",
            "TR",
            "Denizli",
            "Organize Sanayi Bölgesi 7. Cadde",
            "Mehmet Yılmaz",
        ),
    ),
    StoreSpec(
        "Anatolia Gourmet",
        "sourcing",
        "TR",
        "İzmir",
        "EUR",
        ("Food & Beverages",),
        "Olive oil, Turkish delight, coffee and spices for delis and importers. Halal certified.",
        org=_org("Anatolia Gourmet Gıda Ltd. Şti.", "TR", "İzmir", "Kemalpaşa Caddesi 210", "Ayşe Demir"),
    ),
    StoreSpec(
        "Tiruppur Knit Exports",
        "sourcing",
        "IN",
        "Tiruppur",
        "INR",
        ("Fashion",),
        "Organic cotton knitwear from Tiruppur. GOTS certified, prices in INR ex-works.",
        org=_org(
            "Tiruppur Knit Exports Pvt. Ltd.", "IN", "Tiruppur", "SIDCO Industrial Estate", "Arjun Kumar"
        ),
    ),
    StoreSpec(
        "Jaipur Herbal Naturals",
        "sourcing",
        "IN",
        "Jaipur",
        "USD",
        ("Beauty & Personal Care", "Food & Beverages"),
        "Ayurvedic skincare, hair care and whole spices. Private label with your own packaging.",
        org=_org(
            "Jaipur Herbal Naturals Pvt. Ltd.", "IN", "Jaipur", "Sitapura Industrial Area", "Priya Sharma"
        ),
    ),
)

MARKET_STORES: tuple[StoreSpec, ...] = (
    StoreSpec(
        "Xiaoyu's Handmade Corner",
        "market",
        "CN",
        "Hangzhou",
        "CNY",
        ("Home & Kitchen", "Toys & Games"),
        "Handmade ceramics and naïve wooden toys from my studio by West Lake. Every piece is one of a kind.",
        owner_name="Xiaoyu Chen",
        account=MARKET_SELLER,
    ),
    StoreSpec(
        "Ah-Ming Digital",
        "market",
        "CN",
        "Shenzhen",
        "CNY",
        ("Electronics",),
        "Gadgets I test myself before listing. Huaqiangbei prices, same-day dispatch.",
        owner_name="Liang Ming",
    ),
    StoreSpec(
        "Lily Vintage Closet",
        "market",
        "CN",
        "Shanghai",
        "CNY",
        ("Fashion",),
        "Vintage-inspired dresses, knits and bags. New drops every Friday night.",
        owner_name="Lily Zhao",
    ),
    StoreSpec(
        "Chengdu Spice Kitchen",
        "market",
        "CN",
        "Chengdu",
        "CNY",
        ("Food & Beverages",),
        "Chilli crisp, Sichuan pepper and snacks from my family's recipes.",
        owner_name="Yang Xue",
    ),
    StoreSpec(
        "Peak & Trail Gear",
        "market",
        "CN",
        "Kunming",
        "CNY",
        ("Sports & Outdoors",),
        "Hiking and camping gear chosen by a Yunnan mountain guide.",
        owner_name="Duan Hao",
    ),
    StoreSpec(
        "Little Panda Toys",
        "market",
        "CN",
        "Chengdu",
        "CNY",
        ("Toys & Games",),
        "Plush pandas, puzzles and wooden toys for little ones.",
        owner_name="Wu Tingting",
    ),
    StoreSpec(
        "Glow Lab by Mei",
        "market",
        "CN",
        "Guangzhou",
        "CNY",
        ("Beauty & Personal Care",),
        "Skincare I use and love: crème, serums and masks, all tried on sensitive skin.",
        owner_name="Mei Lin",
    ),
    StoreSpec(
        "Old Wang's Tool Shed",
        "market",
        "CN",
        "Tianjin",
        "CNY",
        ("Industrial & Tools", "Automotive"),
        "Tools and car parts for DIY fans. Ask me anything about fitment.",
        owner_name="Wang Jianguo",
    ),
    StoreSpec(
        "Suzhou Silk & Home",
        "market",
        "CN",
        "Suzhou",
        "CNY",
        ("Home & Kitchen", "Fashion"),
        "Silk scarves, linen and home décor from Suzhou's old town.",
        owner_name="Gu Yan",
    ),
    StoreSpec(
        "Café Nook Beans",
        "market",
        "CN",
        "Xiamen",
        "CNY",
        ("Food & Beverages",),
        "Small-batch roasts for the perfect café crème, roasted to order twice a week.",
        owner_name="Su Mingyu",
    ),
    StoreSpec(
        "KL Kicks",
        "market",
        "MY",
        "Kuala Lumpur",
        "MYR",
        ("Fashion", "Sports & Outdoors"),
        "Sneakers and running gear, shipped from Kuala Lumpur across Malaysia.",
        owner_name="Aiman Rahman",
    ),
    StoreSpec(
        "Bangkok Beauty Box",
        "market",
        "TH",
        "Bangkok",
        "THB",
        ("Beauty & Personal Care",),
        "Thai and Korean beauty favourites, checked for authenticity.",
        owner_name="Siriporn Chai",
    ),
    StoreSpec(
        "Zoë's Crème Studio",
        "market",
        "GB",
        "Bristol",
        "GBP",
        ("Beauty & Personal Care", "Home & Kitchen"),
        "Whipped body soufflé, candles and little luxuries, made in my Bristol kitchen.",
        owner_name="Zoë Hughes",
    ),
    StoreSpec(
        "Garage Finds by José",
        "market",
        "US",
        "Austin",
        "USD",
        ("Automotive", "Industrial & Tools"),
        "Car care and tools I actually use in my own garage.",
        owner_name="José Álvarez",
    ),
)

MALL_STORES: tuple[StoreSpec, ...] = (
    StoreSpec(
        "Lumora Official Store",
        "mall",
        "CN",
        "Shenzhen",
        "CNY",
        ("Electronics",),
        "Lumora earbuds, speakers and smart-home devices. Official store with the national warranty.",
        org=_org("Lumora Technology Co., Ltd.", "CN", "Shenzhen", "1 Keji Road, Nanshan", "Zhang Min"),
        brand_name="Lumora",
        account=MALL_SELLER,
    ),
    StoreSpec(
        "Maison Célia Official Store",
        "mall",
        "FR",
        "Grasse",
        "CNY",
        ("Beauty & Personal Care",),
        "French skincare and fragrance from Grasse: crèmes, eaux de parfum and body soufflés.",
        org=_org("Maison Célia SAS", "FR", "Grasse", "12 Avenue Thiers", "Céline Moreau"),
        brand_name="Maison Célia",
    ),
    StoreSpec(
        "Nordvik Home Flagship",
        "mall",
        "SE",
        "Malmö",
        "CNY",
        ("Home & Kitchen",),
        "Scandinavian tableware, bedding and décor. Official Nordvik store.",
        org=_org("Nordvik Interiors AB", "SE", "Malmö", "Stortorget 8", "Erik Lindqvist"),
        brand_name="Nordvik Home",
    ),
    StoreSpec(
        "Kaito Sports Official",
        "mall",
        "JP",
        "Osaka",
        "CNY",
        ("Sports & Outdoors",),
        "Kaito running, yoga and team sports gear, designed in Osaka.",
        org=_org("Kaito Sports Co., Ltd.", "JP", "Osaka", "2-5-1 Umeda, Kita-ku", "Kenji Sato"),
        brand_name="Kaito",
    ),
    StoreSpec(
        "Aurelle Paris",
        "mall",
        "FR",
        "Paris",
        "EUR",
        ("Fashion",),
        "Aurelle ready-to-wear, bags and accessories. Official store, prices in EUR.",
        org=_org("Aurelle Mode SARL", "FR", "Paris", "27 Rue du Faubourg Saint-Honoré", "Chloé Dubois"),
        brand_name="Aurelle",
    ),
    StoreSpec(
        "Pixbright Toys Official",
        "mall",
        "HK",
        "Hong Kong",
        "USD",
        ("Toys & Games",),
        "Pixbright building sets and STEM kits. Official store, prices in USD.",
        org=_org("Pixbright Toys Limited", "HK", "Hong Kong", "18 Harbour Road, Wan Chai", "Kelvin Wong"),
        brand_name="Pixbright",
    ),
    StoreSpec(
        "Steelcraft Tools",
        "mall",
        "DE",
        "Solingen",
        "EUR",
        ("Industrial & Tools",),
        "Steelcraft professional tools from Solingen. Official brand store.",
        org=_org("Steelcraft Werkzeuge GmbH", "DE", "Solingen", "Klingenstraße 5", "Jonas Krüger"),
        brand_name="Steelcraft",
    ),
    StoreSpec(
        "Golden Terrace Tea",
        "mall",
        "CN",
        "Hangzhou",
        "CNY",
        ("Food & Beverages",),
        "Golden Terrace teas and coffees, from our own gardens in Longjing.",
        org=_org("Golden Terrace Tea Co., Ltd.", "CN", "Hangzhou", "66 Longjing Road, Xihu", "Xu Jing"),
        brand_name="Golden Terrace",
    ),
)

CROSSBORDER_STORES: tuple[StoreSpec, ...] = (
    StoreSpec(
        "Hanseatic Goods",
        "crossborder",
        "DE",
        "Hamburg",
        "EUR",
        ("Home & Kitchen", "Automotive"),
        "German homeware and car care, shipped across Europe and worldwide. Prices in EUR, VAT shown at checkout.",
        org=_org("Hanseatic Goods GmbH", "DE", "Hamburg", "Speicherstadt, Kehrwieder 2", "Anna Becker"),
        account=GLOBAL_SELLER,
    ),
    StoreSpec(
        "Thames & Co.",
        "crossborder",
        "GB",
        "London",
        "GBP",
        ("Fashion", "Beauty & Personal Care"),
        "British heritage fashion and grooming, shipped worldwide from London.",
        org=_org("Thames & Co. Trading Ltd", "GB", "London", "14 Borough High Street", "Oliver Grant"),
    ),
    StoreSpec(
        "Pacific Gadget Hub",
        "crossborder",
        "US",
        "San Jose",
        "USD",
        ("Electronics",),
        "Gadgets and accessories shipped from California to 40 countries.",
        org=_org("Pacific Gadget Hub LLC", "US", "San Jose", "200 N First Street", "Emily Carter"),
    ),
    StoreSpec(
        "Kyoto Craft Market",
        "crossborder",
        "JP",
        "Kyoto",
        "JPY",
        ("Home & Kitchen", "Food & Beverages"),
        "Tableware, knives and matcha from Kyoto's craftspeople, prices in yen.",
        org=_org("Kyoto Craft Market K.K.", "JP", "Kyoto", "35 Gojo-dori, Shimogyo-ku", "Yuki Tanaka"),
    ),
    StoreSpec(
        "Seoul Glow",
        "crossborder",
        "KR",
        "Seoul",
        "KRW",
        ("Beauty & Personal Care",),
        "K-beauty skincare and make-up, shipped from Seoul with tracking.",
        org=_org("Seoul Glow Co., Ltd.", "KR", "Seoul", "21 Gangnam-daero, Seocho-gu", "Park Ji-woo"),
    ),
    StoreSpec(
        "Outback Supply",
        "crossborder",
        "AU",
        "Brisbane",
        "AUD",
        ("Sports & Outdoors", "Automotive"),
        "Camping, 4WD and outdoor gear from Queensland, prices in AUD.",
        org=_org("Outback Supply Pty Ltd", "AU", "Brisbane", "88 Eagle Street", "Jack Wilson"),
    ),
    StoreSpec(
        "GoGlobal Direct",
        "crossborder",
        "CN",
        "Shenzhen",
        "USD",
        ("Electronics", "Toys & Games"),
        "Factory-direct gadgets and toys with free tracked shipping over US$20.",
        org=_org(
            "Shenzhen GoGlobal Trading Co., Ltd.", "CN", "Shenzhen", "7 Minzhi Avenue, Longhua", "Deng Yu"
        ),
    ),
    StoreSpec(
        "Maple Leaf Outfitters",
        "crossborder",
        "CA",
        "Vancouver",
        "CAD",
        ("Fashion", "Sports & Outdoors"),
        "Outerwear and outdoor essentials from Vancouver, prices in CAD.",
        org=_org(
            "Maple Leaf Outfitters Inc.", "CA", "Vancouver", "1055 West Georgia Street", "Sophie Tremblay"
        ),
    ),
)

# an approved organisation whose mall store waits for the operators to check its brand authorisation
PENDING_MALL_STORE = StoreSpec(
    "Véloce Official Store",
    "mall",
    "IT",
    "Treviso",
    "CNY",
    ("Sports & Outdoors",),
    "Italian cycling helmets, lights and jerseys. Brand authorisation under review.",
    org=_org("Véloce Cicli S.r.l.", "IT", "Treviso", "Via Postumia 44", "Giulia Bianchi"),
    brand_name="Véloce",
    status="pending_review",
)

# an organisation that registered and is waiting for verification, with the sourcing store it opened
PENDING_ORG_STORE = StoreSpec(
    "Ahmedabad Pack Solutions",
    "sourcing",
    "IN",
    "Ahmedabad",
    "INR",
    ("Industrial & Tools",),
    "Corrugated boxes, mailers and stretch film for e-commerce sellers. Waiting for verification.",
    org=_org(
        "Ahmedabad Pack Solutions Pvt. Ltd.",
        "IN",
        "Ahmedabad",
        "GIDC Vatva Phase 4",
        "Rohan Patel",
        "pending_review",
    ),
    status="pending_review",
)

# people who only buy
BUYER_NAMES: tuple[tuple[str, str], ...] = (
    ("Sofia Rossi", "IT"),
    ("Lucas Martin", "FR"),
    ("Hannah Schmidt", "DE"),
    ("Mateo García", "ES"),
    ("Emma Johansson", "SE"),
    ("Noah Smith", "US"),
    ("Aiko Suzuki", "JP"),
    ("Seo-yeon Kim", "KR"),
    ("Chen Hao", "CN"),
    ("Fatima Zahra", "MA"),
    ("Olivia Brown", "AU"),
    ("Rahul Mehta", "IN"),
)

# Approximate exchange rates (units per US dollar) used only to price the demo catalog.
USD_RATES: dict[str, float] = {
    "USD": 1.0,
    "EUR": 0.92,
    "GBP": 0.79,
    "CNY": 7.2,
    "JPY": 150.0,
    "KRW": 1350.0,
    "INR": 83.0,
    "AUD": 1.52,
    "CAD": 1.36,
    "MYR": 4.7,
    "THB": 36.0,
    "HKD": 7.8,
}
