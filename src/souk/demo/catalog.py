"""Word lists the demo catalog is generated from: departments (top categories) with their subcategories,
product nouns, option sets, adjectives, materials, features and attributes.

Prices are consumer prices in US dollars; the builder converts them into each store's currency and
turns them into wholesale prices for sourcing stores. A few words carry accents ("Crème", "Café",
"Naïve", "Piñata", "Jalapeño") so that accent-folded search can be shown: "creme" finds "Crème".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Option:
    name: str
    values: tuple[str, ...]
    # price grows by this fraction for each step along ``values`` (capacity, pack size ...)
    step: float = 0.0
    # how many values a product offers, and whether they are a contiguous run (sizes)
    pick: tuple[int, int] = (2, 3)
    contiguous: bool = True


@dataclass(frozen=True)
class Noun:
    name: str
    usd_low: float
    usd_high: float
    options: tuple[str, ...]
    grams: int


@dataclass(frozen=True)
class Leaf:
    name: str
    nouns: tuple[Noun, ...]


@dataclass(frozen=True)
class Department:
    name: str
    # the silhouette drawn on its product images (see demo.images)
    shape: str
    palette: tuple[str, ...]
    adjectives: tuple[str, ...]
    materials: tuple[str, ...]
    features: tuple[str, ...]
    uses: tuple[str, ...]
    attributes: dict[str, tuple[str, ...]]
    leaves: tuple[Leaf, ...]


# name -> RGB, for the images and the Colour option
COLOURS: dict[str, tuple[int, int, int]] = {
    "Black": (38, 38, 42),
    "White": (236, 236, 232),
    "Silver": (178, 182, 188),
    "Space Grey": (96, 100, 108),
    "Midnight Blue": (28, 44, 92),
    "Rose Gold": (214, 160, 146),
    "Sage Green": (142, 168, 132),
    "Crème": (240, 228, 200),
    "Charcoal": (64, 66, 70),
    "Terracotta": (196, 102, 72),
    "Navy": (30, 50, 100),
    "Blush Pink": (232, 178, 184),
    "Natural Oak": (196, 160, 112),
    "Camel": (193, 154, 107),
    "Olive": (110, 116, 62),
    "Burgundy": (122, 32, 52),
    "Écru": (226, 214, 186),
    "Rosé": (226, 150, 160),
    "Denim Blue": (70, 100, 150),
    "Heather Grey": (160, 160, 166),
    "Pearl White": (244, 240, 236),
    "Mint": (160, 220, 196),
    "Lavender": (184, 164, 216),
    "Amber": (212, 140, 40),
    "Red": (200, 40, 44),
    "Royal Blue": (40, 80, 200),
    "Lime": (160, 210, 60),
    "Orange": (240, 130, 30),
    "Graphite": (70, 74, 80),
    "Teal": (30, 140, 140),
    "Yellow": (246, 200, 40),
    "Sky Blue": (110, 180, 236),
    "Green": (60, 160, 80),
    "Purple": (130, 70, 170),
    "Pink": (236, 110, 160),
    "Safety Yellow": (250, 210, 0),
    "Steel Grey": (120, 128, 136),
    "Blue": (40, 100, 190),
    "Kraft Brown": (170, 120, 80),
    "Forest Green": (40, 90, 56),
    "Gold": (200, 160, 60),
    "Grey": (128, 128, 128),
    "Beige": (220, 200, 170),
    "Walnut": (110, 76, 50),
    "Maple": (214, 180, 130),
    "Ebony": (40, 32, 30),
}

OPTIONS: dict[str, Option] = {
    "colour": Option("Colour", (), pick=(2, 4), contiguous=False),
    "size": Option("Size", ("XS", "S", "M", "L", "XL", "XXL"), pick=(3, 5)),
    "shoe": Option("Size", tuple(f"EU {n}" for n in range(36, 47)), pick=(4, 6)),
    "waist": Option("Size", tuple(f"W{n}" for n in range(26, 38, 2)), pick=(3, 5)),
    "kids": Option("Size", ("2-3 Y", "4-5 Y", "6-7 Y", "8-9 Y", "10-11 Y", "12-13 Y"), pick=(3, 5)),
    "baby": Option("Size", ("0-3 M", "3-6 M", "6-12 M", "12-18 M", "18-24 M"), pick=(3, 4)),
    "belt": Option("Size", ("85 cm", "90 cm", "95 cm", "100 cm", "105 cm", "110 cm"), pick=(3, 4)),
    "mah": Option("Capacity", ("5,000 mAh", "10,000 mAh", "20,000 mAh", "30,000 mAh"), step=0.3),
    "watt": Option("Power", ("20 W", "33 W", "45 W", "65 W", "100 W"), step=0.25),
    "phone": Option(
        "Model", ("iPhone 15", "iPhone 15 Pro", "iPhone 16", "Galaxy S24", "Pixel 9"), pick=(3, 5)
    ),
    "cable": Option("Length", ("0.5 m", "1 m", "2 m", "3 m"), step=0.15),
    "connector": Option("Connector", ("USB-C", "Lightning", "3.5 mm jack"), contiguous=False),
    "switch": Option("Switches", ("Red linear", "Brown tactile", "Blue clicky"), pick=(2, 3)),
    "hub": Option("Ports", ("5-in-1", "7-in-1", "9-in-1", "11-in-1"), step=0.3),
    "resolution": Option("Resolution", ("1080p", "2K", "4K"), step=0.35),
    "case": Option("Case size", ("41 mm", "45 mm", "49 mm"), step=0.1, pick=(2, 2)),
    "pack": Option("Pack", ("Pack of 1", "Pack of 2", "Pack of 4", "Pack of 6"), step=0.8),
    "strip": Option("Length", ("2 m", "5 m", "10 m", "20 m"), step=0.6),
    "ring": Option("Diameter", ('10"', '12"', '14"', '18"'), step=0.35),
    "pan": Option("Diameter", ("20 cm", "24 cm", "26 cm", "28 cm", "30 cm"), step=0.15),
    "piece": Option("Set", ("3-piece", "5-piece", "8-piece", "12-piece"), step=0.45),
    "blade": Option("Blade", ("13 cm", "15 cm", "20 cm", "23 cm"), step=0.2),
    "plates": Option("Set", ("Set of 2", "Set of 4", "Set of 6"), step=0.7),
    "mug": Option("Capacity", ("250 ml", "350 ml", "450 ml"), step=0.15),
    "sml": Option("Size", ("S", "M", "L"), step=0.25, pick=(2, 3)),
    "cushion": Option("Size", ("40 × 40 cm", "45 × 45 cm", "50 × 50 cm", "60 × 60 cm"), step=0.15),
    "print": Option("Size", ("A4", "A3", "A2", "50 × 70 cm"), step=0.4),
    "scent": Option(
        "Scent", ("Vanilla Crème", "Fig & Cedar", "Sea Salt", "Café au Lait", "Lavender"), contiguous=False
    ),
    "bed": Option("Bed size", ("Single", "Double", "Queen", "King"), step=0.2),
    "blanket": Option("Weight", ("5 kg", "7 kg", "9 kg", "11 kg"), step=0.2),
    "litre": Option("Capacity", ("3.5 L", "5.5 L", "7 L"), step=0.25),
    "ml": Option("Volume", ("30 ml", "50 ml", "100 ml", "200 ml"), step=0.55),
    "shade": Option(
        "Shade", ("Ivory", "Porcelain", "Beige", "Sand", "Honey", "Caramel", "Mocha"), pick=(4, 6)
    ),
    "lip": Option("Shade", ("Rosé", "Brick Red", "Nude", "Berry", "Coral", "Crème Brûlée"), contiguous=False),
    "palette": Option("Palette", ("Nude", "Smoky", "Sunset", "Naïve Pastels"), contiguous=False),
    "stone": Option("Stone", ("Jade", "Rose Quartz", "Amethyst"), contiguous=False),
    "dumbbell": Option("Weight", ("2 × 5 kg", "2 × 10 kg", "2 × 20 kg"), step=0.8),
    "strength": Option("Resistance", ("Light", "Medium", "Heavy", "Extra heavy"), step=0.15),
    "kettlebell": Option("Weight", ("8 kg", "12 kg", "16 kg", "20 kg", "24 kg"), step=0.3),
    "thickness": Option("Thickness", ("4 mm", "6 mm", "8 mm", "10 mm"), step=0.15),
    "temperature": Option("Comfort rating", ("+10 °C", "0 °C", "-10 °C"), step=0.35),
    "bottle": Option("Capacity", ("500 ml", "750 ml", "1 L"), step=0.15),
    "ball": Option("Size", ("Size 3", "Size 4", "Size 5"), step=0.1),
    "glove": Option("Size", ("7", "8", "9", "10", "11"), pick=(3, 5)),
    "pieces": Option("Set", ("60 pieces", "100 pieces", "150 pieces", "250 pieces"), step=0.6),
    "plush": Option("Height", ("25 cm", "40 cm", "60 cm", "90 cm"), step=0.6),
    "wood": Option("Finish", ("Walnut", "Maple", "Ebony"), contiguous=False),
    "volt": Option("Kit", ("Tool only", "1 × 2.0 Ah battery", "2 × 4.0 Ah batteries"), step=0.5),
    "disc": Option("Disc", ("115 mm", "125 mm", "150 mm"), step=0.15),
    "tools": Option("Set", ("40-piece", "94-piece", "150-piece", "216-piece"), step=0.6),
    "tape": Option("Length", ("5 m", "8 m", "10 m"), step=0.25),
    "spanner": Option("Length", ("200 mm", "250 mm", "300 mm", "375 mm"), step=0.2),
    "bolt": Option("Thread", ("M5", "M6", "M8", "M10", "M12"), step=0.2, pick=(3, 5)),
    "box": Option("Size", ("20 × 15 × 10 cm", "30 × 20 × 15 cm", "40 × 30 × 20 cm"), step=0.5),
    "film": Option("Width", ("250 mm", "450 mm", "500 mm"), step=0.3),
    "watts": Option("Power", ("18 W", "24 W", "36 W", "48 W"), step=0.3),
    "amp": Option("Rating", ("6 A", "10 A", "16 A", "20 A", "32 A"), step=0.1, pick=(3, 5)),
    "wire": Option("Cross-section", ("1.5 mm²", "2.5 mm²", "4 mm²", "6 mm²"), step=0.4),
    "grams": Option("Weight", ("100 g", "250 g", "500 g", "1 kg"), step=0.8),
    "grind": Option("Grind", ("Whole bean", "Espresso", "Filter", "Cafetière"), contiguous=False),
    "oil": Option("Volume", ("250 ml", "500 ml", "750 ml", "1 L"), step=0.5),
    "flavour": Option(
        "Flavour", ("Rose", "Pistachio", "Lemon", "Pomegranate", "Mixed"), contiguous=False, pick=(2, 4)
    ),
    "heat": Option("Heat", ("Mild", "Medium", "Hot", "Extra hot"), step=0.05),
    "wiper": Option("Length", ('16"', '18"', '22"', '24"', '26"'), step=0.1, pick=(3, 4)),
    "bulb": Option("Fitting", ("H1", "H4", "H7", "H11", "9005"), contiguous=False, pick=(3, 4)),
    "rope": Option("Length", ("4 m", "5 m", "8 m"), step=0.2),
}


def noun(name: str, low: float, high: float, options: str, grams: int) -> Noun:
    """A noun from compact arguments: options are OPTIONS keys joined by "+"."""
    return Noun(name, low, high, tuple(o for o in options.split("+") if o), grams)


# phrases that make titles look like each trade model's listings
SOURCING_PREFIXES = (
    "Wholesale",
    "Custom Logo",
    "OEM",
    "Factory Direct",
    "Hot Selling",
    "High Quality",
    "Bulk",
    "Private Label",
)
SOURCING_SUFFIXES = ("for Retail", "for Distributors", "OEM/ODM", "Low MOQ", "Export Quality", "")
CROSSBORDER_SUFFIXES = ("Worldwide Shipping", "Fast Delivery", "Tracked Shipping", "Gift Idea", "")
MODEL_NUMBERS = ("S2", "X3", "Pro 4", "Max", "Lite", "Air", "Plus", "V5", "Neo", "One")
