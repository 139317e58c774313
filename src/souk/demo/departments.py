"""The departments (top categories) of the demo catalog, their subcategories and product nouns.

Each noun carries a consumer price range in US dollars, its option sets (keys of ``catalog.OPTIONS``) and a
shipping weight in grams.
"""

from __future__ import annotations

from souk.demo.catalog import Department, Leaf
from souk.demo.catalog import noun as _n

DEPARTMENTS: tuple[Department, ...] = (
    Department(
        name="Electronics",
        shape="device",
        palette=("Black", "White", "Silver", "Space Grey", "Midnight Blue", "Rose Gold", "Sage Green"),
        adjectives=("Compact", "Portable", "Ultra-Slim", "Pro", "Mini", "Smart", "Premium", "Everyday"),
        materials=("aluminium", "matte ABS", "soft-touch silicone", "tempered glass", "recycled plastic"),
        features=(
            "USB-C",
            "2-year warranty",
            "fast charging",
            "long battery life",
            "Bluetooth 5.3",
            "travel-ready",
        ),
        uses=(
            "Pairs in seconds and remembers your devices.",
            "Sized for a bag pocket, built for daily commutes.",
            "Tested for 10,000 cycles before it leaves the line.",
            "Works with iOS, Android, Windows and macOS.",
        ),
        attributes={
            "Connectivity": ("Bluetooth 5.3", "USB-C", "Wi-Fi 2.4 GHz", "USB-A"),
            "Warranty": ("12 months", "24 months"),
            "Certification": ("CE", "FCC", "RoHS", "CE, FCC, RoHS"),
        },
        leaves=(
            Leaf(
                "Phone Accessories",
                (
                    _n("Fast Charger", 8, 35, "colour+watt", 90),
                    _n("Power Bank", 15, 60, "colour+mah", 260),
                    _n("Phone Case", 5, 25, "colour+phone", 40),
                    _n("Charging Cable", 4, 18, "colour+cable", 45),
                    _n("Magnetic Car Mount", 8, 30, "colour", 110),
                ),
            ),
            Leaf(
                "Audio",
                (
                    _n("Wireless Earbuds", 19, 89, "colour", 60),
                    _n("Over-Ear Headphones", 29, 149, "colour", 280),
                    _n("Bluetooth Speaker", 19, 99, "colour", 420),
                    _n("Clip-On Microphone", 12, 45, "colour+connector", 50),
                ),
            ),
            Leaf(
                "Computer Accessories",
                (
                    _n("Mechanical Keyboard", 35, 129, "colour+switch", 900),
                    _n("Wireless Mouse", 9, 49, "colour", 95),
                    _n("USB-C Hub", 15, 59, "colour+hub", 120),
                    _n("Laptop Stand", 15, 45, "colour", 650),
                    _n("Webcam", 20, 79, "resolution", 160),
                ),
            ),
            Leaf(
                "Smart Home",
                (
                    _n("Smart Plug", 8, 25, "pack", 110),
                    _n("LED Strip Light", 10, 40, "strip", 300),
                    _n("Wi-Fi Security Camera", 20, 70, "colour", 240),
                    _n("Smart Bulb", 7, 20, "pack", 80),
                    _n("Video Doorbell", 35, 120, "colour", 300),
                ),
            ),
            Leaf(
                "Wearables",
                (
                    _n("Smart Watch", 29, 199, "colour+case", 60),
                    _n("Fitness Tracker", 19, 69, "colour", 30),
                    _n("Silicone Watch Strap", 5, 25, "colour+case", 25),
                ),
            ),
            Leaf(
                "Cameras & Drones",
                (
                    _n("Action Camera", 49, 249, "colour+resolution", 150),
                    _n("Mini Drone", 39, 299, "colour", 250),
                    _n("Camera Tripod", 12, 60, "colour", 900),
                    _n("Ring Light", 15, 50, "ring", 1200),
                ),
            ),
        ),
    ),
    Department(
        name="Home & Kitchen",
        shape="mug",
        palette=(
            "Crème",
            "White",
            "Charcoal",
            "Sage Green",
            "Terracotta",
            "Navy",
            "Blush Pink",
            "Natural Oak",
        ),
        adjectives=("Classic", "Nordic", "Rustic", "Minimalist", "Handmade", "Everyday", "Artisan", "Cosy"),
        materials=(
            "stoneware",
            "stainless steel",
            "bamboo",
            "borosilicate glass",
            "stonewashed linen",
            "oak",
        ),
        features=(
            "dishwasher safe",
            "oven safe to 220 °C",
            "gift boxed",
            "stackable",
            "easy to clean",
            "made to last",
        ),
        uses=(
            "Brings a calm crème-and-oak feel to any kitchen.",
            "Made for slow Sunday breakfasts and a proper café crème.",
            "Each piece is finished by hand, so no two are quite alike.",
            "Looks as good on the table as it does in the cupboard.",
        ),
        attributes={
            "Care": ("Dishwasher safe", "Hand wash recommended", "Machine wash 40 °C"),
            "Style": ("Scandinavian", "Rustic", "Modern", "Naïve folk art", "Japandi"),
        },
        leaves=(
            Leaf(
                "Cookware",
                (
                    _n("Non-Stick Frying Pan", 15, 60, "pan", 900),
                    _n("Cast Iron Casserole", 35, 180, "colour+pan", 4200),
                    _n("Stainless Steel Saucepan Set", 40, 150, "piece", 3500),
                    _n("Chef's Knife", 12, 90, "blade", 220),
                ),
            ),
            Leaf(
                "Tableware",
                (
                    _n("Stoneware Dinner Plates", 20, 70, "colour+plates", 2400),
                    _n("Café Latte Mug", 6, 22, "colour+mug", 380),
                    _n("Glass Tumbler Set", 10, 35, "plates", 1200),
                    _n("Bamboo Serving Board", 10, 40, "sml", 700),
                ),
            ),
            Leaf(
                "Home Décor",
                (
                    _n("Linen Cushion Cover", 8, 25, "colour+cushion", 150),
                    _n("Naïve Art Print", 10, 45, "print", 200),
                    _n("Scented Soy Candle", 8, 30, "scent", 350),
                    _n("Ceramic Vase", 12, 55, "colour", 800),
                ),
            ),
            Leaf(
                "Storage & Organisation",
                (
                    _n("Stackable Storage Box", 6, 25, "colour+sml", 600),
                    _n("Vacuum Food Container Set", 15, 45, "piece", 1100),
                    _n("Drawer Organiser", 8, 25, "colour", 300),
                    _n("Woven Laundry Basket", 15, 45, "colour+sml", 900),
                ),
            ),
            Leaf(
                "Bedding",
                (
                    _n("Cotton Duvet Cover Set", 30, 120, "colour+bed", 1400),
                    _n("Memory Foam Pillow", 18, 60, "pack", 1300),
                    _n("Linen Sheet Set", 40, 160, "colour+bed", 1600),
                    _n("Weighted Blanket", 35, 110, "colour+blanket", 7000),
                ),
            ),
            Leaf(
                "Small Appliances",
                (
                    _n("Electric Kettle", 18, 70, "colour", 1100),
                    _n("Air Fryer", 45, 160, "colour+litre", 5200),
                    _n("Hand Blender", 19, 70, "colour", 900),
                    _n("Espresso Machine", 90, 400, "colour", 6500),
                ),
            ),
        ),
    ),
    Department(
        name="Fashion",
        shape="shirt",
        palette=(
            "Black",
            "White",
            "Navy",
            "Camel",
            "Olive",
            "Burgundy",
            "Écru",
            "Rosé",
            "Denim Blue",
            "Heather Grey",
        ),
        adjectives=(
            "Relaxed",
            "Slim-Fit",
            "Oversized",
            "Classic",
            "Vintage",
            "Essential",
            "Tailored",
            "Soft",
        ),
        materials=(
            "organic cotton",
            "washed linen",
            "merino wool",
            "full-grain leather",
            "recycled polyester",
        ),
        features=(
            "true to size",
            "machine washable",
            "breathable",
            "all-season",
            "limited edition",
            "gift ready",
        ),
        uses=(
            "Cut for everyday wear and easy layering.",
            "Pre-washed so it is soft from the first day and keeps its shape.",
            "Pairs with denim on weekdays and tailoring at the weekend.",
            "The naïve hand-drawn label inside is a small wink from the design team.",
        ),
        attributes={
            "Fit": ("Regular", "Slim", "Relaxed", "Oversized"),
            "Care": ("Machine wash 30 °C", "Hand wash", "Dry clean only"),
            "Season": ("Spring/Summer", "Autumn/Winter", "All seasons"),
        },
        leaves=(
            Leaf(
                "Women's Clothing",
                (
                    _n("Linen Midi Dress", 25, 90, "colour+size", 300),
                    _n("Knit Cardigan", 25, 80, "colour+size", 420),
                    _n("High-Waist Jeans", 25, 90, "colour+waist", 600),
                    _n("Silk Blouse", 30, 120, "colour+size", 180),
                ),
            ),
            Leaf(
                "Men's Clothing",
                (
                    _n("Oxford Shirt", 20, 70, "colour+size", 280),
                    _n("Crew Neck T-Shirt", 8, 30, "colour+size", 180),
                    _n("Chino Trousers", 25, 80, "colour+waist", 500),
                    _n("Quilted Jacket", 45, 160, "colour+size", 900),
                    _n("Merino Jumper", 40, 120, "colour+size", 380),
                ),
            ),
            Leaf(
                "Shoes",
                (
                    _n("Leather Sneakers", 40, 140, "colour+shoe", 900),
                    _n("Running Shoes", 35, 150, "colour+shoe", 600),
                    _n("Chelsea Boots", 60, 180, "colour+shoe", 1300),
                    _n("Canvas Slip-Ons", 15, 50, "colour+shoe", 500),
                ),
            ),
            Leaf(
                "Bags",
                (
                    _n("Leather Tote Bag", 30, 180, "colour", 800),
                    _n("Canvas Backpack", 20, 80, "colour", 700),
                    _n("Crossbody Bag", 20, 90, "colour", 400),
                    _n("Weekender Duffel Bag", 30, 120, "colour", 1100),
                ),
            ),
            Leaf(
                "Accessories",
                (
                    _n("Wool Scarf", 15, 60, "colour", 200),
                    _n("Leather Belt", 15, 60, "colour+belt", 250),
                    _n("Polarised Sunglasses", 12, 120, "colour", 60),
                    _n("Baseball Cap", 8, 30, "colour", 100),
                ),
            ),
            Leaf(
                "Kids' Clothing",
                (
                    _n("Kids' Hoodie", 12, 35, "colour+kids", 300),
                    _n("Baby Romper Set", 10, 30, "colour+baby", 200),
                    _n("Kids' Rain Jacket", 18, 50, "colour+kids", 350),
                ),
            ),
        ),
    ),
    Department(
        name="Beauty & Personal Care",
        shape="bottle",
        palette=("Pearl White", "Blush Pink", "Mint", "Lavender", "Amber", "Black"),
        adjectives=("Gentle", "Hydrating", "Nourishing", "Radiant", "Daily", "Soothing", "Clean", "Silky"),
        materials=(
            "hyaluronic acid",
            "shea butter",
            "argan oil",
            "vitamin C",
            "green tea extract",
            "ceramides",
        ),
        features=(
            "fragrance free",
            "dermatologist tested",
            "vegan",
            "cruelty free",
            "for all skin types",
            "travel size available",
        ),
        uses=(
            "A silky crème texture that sinks in without a greasy finish.",
            "Made in small batches and filled by hand.",
            "Use morning and evening on clean skin.",
            "Recyclable glass packaging with a refill option.",
        ),
        attributes={
            "Skin type": ("All skin types", "Dry", "Oily", "Sensitive", "Combination"),
            "Certification": ("Vegan", "Cruelty free", "COSMOS Organic", "Dermatologist tested"),
        },
        leaves=(
            Leaf(
                "Skincare",
                (
                    _n("Hydrating Face Crème", 12, 60, "ml", 120),
                    _n("Vitamin C Serum", 10, 50, "ml", 90),
                    _n("Foaming Cleanser", 8, 30, "ml", 180),
                    _n("Sheet Mask", 5, 25, "pack", 30),
                    _n("Whipped Body Soufflé", 10, 35, "ml", 220),
                ),
            ),
            Leaf(
                "Make-up",
                (
                    _n("Liquid Foundation", 10, 45, "shade", 60),
                    _n("Matte Lipstick", 6, 30, "lip", 25),
                    _n("Eyeshadow Palette", 10, 55, "palette", 120),
                    _n("Lengthening Mascara", 6, 28, "colour", 25),
                ),
            ),
            Leaf(
                "Hair Care",
                (
                    _n("Argan Oil Shampoo", 6, 25, "ml", 300),
                    _n("Repair Hair Mask", 8, 30, "ml", 250),
                    _n("Ceramic Hair Straightener", 25, 120, "colour", 450),
                    _n("Ionic Hair Dryer", 30, 180, "colour", 600),
                ),
            ),
            Leaf(
                "Fragrance",
                (
                    _n("Eau de Parfum", 30, 150, "ml", 300),
                    _n("Eau de Toilette", 20, 90, "ml", 280),
                    _n("Scented Body Mist", 8, 25, "ml", 260),
                ),
            ),
            Leaf(
                "Personal Care Tools",
                (
                    _n("Electric Toothbrush", 20, 120, "colour", 200),
                    _n("Facial Roller", 8, 30, "stone", 150),
                    _n("Manicure Set", 8, 35, "colour", 180),
                ),
            ),
        ),
    ),
    Department(
        name="Sports & Outdoors",
        shape="ball",
        palette=("Black", "Red", "Royal Blue", "Lime", "Orange", "Graphite", "Teal"),
        adjectives=(
            "Lightweight",
            "Pro",
            "All-Weather",
            "Performance",
            "Trail",
            "Compact",
            "Durable",
            "Adjustable",
        ),
        materials=("ripstop nylon", "TPE", "aluminium alloy", "natural rubber", "moisture-wicking polyester"),
        features=(
            "sweat resistant",
            "UV protective",
            "non-slip",
            "quick dry",
            "packs small",
            "tested outdoors",
        ),
        uses=(
            "Built for early runs, long rides and weekend trails.",
            "Light enough to carry all day, tough enough for the mountains.",
            "Trusted by club coaches and weekend athletes alike.",
            "Rinse with fresh water after use and dry in the shade.",
        ),
        attributes={
            "Activity": ("Running", "Cycling", "Hiking", "Gym", "Yoga", "Camping"),
            "Water resistance": ("Splash proof", "Water repellent", "Waterproof (IPX6)"),
        },
        leaves=(
            Leaf(
                "Fitness",
                (
                    _n("Adjustable Dumbbell Set", 40, 300, "dumbbell", 12000),
                    _n("Resistance Band Set", 8, 35, "strength", 300),
                    _n("Cast Iron Kettlebell", 15, 80, "kettlebell", 12000),
                    _n("Speed Jump Rope", 5, 25, "colour", 150),
                ),
            ),
            Leaf(
                "Yoga",
                (
                    _n("Yoga Mat", 15, 80, "colour+thickness", 1800),
                    _n("Cork Yoga Block", 8, 25, "pack", 400),
                    _n("High-Waist Yoga Leggings", 15, 70, "colour+size", 250),
                ),
            ),
            Leaf(
                "Cycling",
                (
                    _n("Road Bike Helmet", 25, 120, "colour+sml", 300),
                    _n("USB Bike Light Set", 10, 45, "colour", 150),
                    _n("Cycling Jersey", 25, 90, "colour+size", 200),
                    _n("Folding Bike Lock", 12, 60, "colour", 900),
                ),
            ),
            Leaf(
                "Camping & Hiking",
                (
                    _n("2-Person Dome Tent", 50, 250, "colour", 2600),
                    _n("Mummy Sleeping Bag", 30, 150, "colour+temperature", 1500),
                    _n("Hiking Backpack 40 L", 40, 160, "colour", 1200),
                    _n("Insulated Water Bottle", 12, 40, "colour+bottle", 400),
                    _n("Camping Gas Stove", 20, 80, "colour", 600),
                ),
            ),
            Leaf(
                "Team Sports",
                (
                    _n("Match Football", 12, 60, "ball", 430),
                    _n("Indoor Basketball", 15, 60, "ball", 600),
                    _n("Badminton Racket Set", 15, 80, "colour", 500),
                    _n("Goalkeeper Gloves", 15, 60, "colour+glove", 250),
                ),
            ),
        ),
    ),
    Department(
        name="Toys & Games",
        shape="blocks",
        palette=("Red", "Yellow", "Sky Blue", "Green", "Purple", "Orange", "Pink"),
        adjectives=(
            "Colourful",
            "Classic",
            "Educational",
            "Montessori",
            "Deluxe",
            "Junior",
            "Creative",
            "Wooden",
        ),
        materials=(
            "FSC beech wood",
            "food-grade silicone",
            "recycled cardboard",
            "BPA-free plastic",
            "cotton",
        ),
        features=(
            "ages 3+",
            "EN 71 tested",
            "no batteries needed",
            "gift boxed",
            "screen-free play",
            "for family game night",
        ),
        uses=(
            "Encourages open-ended play and fine motor skills.",
            "Painted with water-based, child-safe colours in a naïve folk style.",
            "Packs away in its own box when play time is over.",
            "A birthday present that gets played with long after the party.",
        ),
        attributes={
            "Age": ("3+", "4+", "6+", "8+", "12+", "0-3 years"),
            "Safety": ("EN 71", "ASTM F963", "CE"),
        },
        leaves=(
            Leaf(
                "Building Toys",
                (
                    _n("Magnetic Building Tiles", 20, 80, "pieces", 1500),
                    _n("Wooden Block Set", 15, 50, "pieces", 2000),
                    _n("Marble Run", 20, 70, "pieces", 1400),
                ),
            ),
            Leaf(
                "Dolls & Plush",
                (
                    _n("Plush Teddy Bear", 10, 45, "colour+plush", 400),
                    _n("Rag Doll", 12, 40, "colour", 300),
                    _n("Naïve Wooden Animals", 12, 40, "pack", 500),
                ),
            ),
            Leaf(
                "Educational Toys",
                (
                    _n("Kids' Microscope", 20, 80, "colour", 900),
                    _n("STEM Robot Kit", 30, 120, "colour", 800),
                    _n("Wooden Jigsaw Puzzle", 8, 25, "pieces", 400),
                    _n("Alphabet Flash Cards", 5, 18, "pack", 200),
                ),
            ),
            Leaf(
                "Outdoor Play",
                (
                    _n("Kids' Kick Scooter", 30, 120, "colour", 3200),
                    _n("Water Blaster", 8, 30, "colour", 350),
                    _n("Rainbow Kite", 10, 40, "colour", 250),
                    _n("Party Piñata", 10, 30, "colour", 700),
                ),
            ),
            Leaf(
                "Board Games",
                (
                    _n("Strategy Board Game", 20, 70, "pack", 1100),
                    _n("Family Card Game", 8, 25, "pack", 250),
                    _n("Folding Chess Set", 15, 120, "wood", 1200),
                ),
            ),
        ),
    ),
    Department(
        name="Industrial & Tools",
        shape="gear",
        palette=("Safety Yellow", "Orange", "Black", "Steel Grey", "Red", "Blue"),
        adjectives=(
            "Heavy-Duty",
            "Professional",
            "Industrial",
            "Compact",
            "Brushless",
            "Precision",
            "Rugged",
        ),
        materials=("chrome vanadium steel", "A2 stainless steel", "glass-filled nylon", "galvanised steel"),
        features=(
            "ISO 9001 factory",
            "CE certified",
            "bulk packed",
            "corrosion resistant",
            "private label available",
            "ships from stock",
        ),
        uses=(
            "Made for job sites, workshops and production lines.",
            "Every batch is checked against the drawing before packing.",
            "Compatible with common industry standards, so it fits what you already use.",
            "Palletised export packing, with mixed containers on request.",
        ),
        attributes={
            "Standard": ("DIN 933", "ISO 4017", "EN 388", "IEC 60898", "ANSI Z87.1"),
            "Certification": ("CE", "ISO 9001", "UKCA", "CE, RoHS"),
        },
        leaves=(
            Leaf(
                "Power Tools",
                (
                    _n("Cordless Drill Driver", 45, 220, "volt", 1600),
                    _n("Angle Grinder", 35, 160, "disc", 2200),
                    _n("Impact Wrench", 60, 250, "volt", 1800),
                    _n("Random Orbital Sander", 35, 130, "colour", 1500),
                ),
            ),
            Leaf(
                "Hand Tools",
                (
                    _n("Socket Wrench Set", 20, 120, "tools", 6000),
                    _n("Screwdriver Set", 10, 50, "piece", 900),
                    _n("Tape Measure", 5, 25, "tape", 300),
                    _n("Adjustable Spanner", 8, 35, "spanner", 400),
                ),
            ),
            Leaf(
                "Safety Equipment",
                (
                    _n("Safety Helmet", 6, 40, "colour", 400),
                    _n("Cut-Resistant Work Gloves", 3, 15, "glove", 90),
                    _n("Anti-Fog Safety Goggles", 3, 18, "pack", 80),
                    _n("High-Visibility Vest", 3, 15, "colour+size", 120),
                ),
            ),
            Leaf(
                "Fasteners & Hardware",
                (
                    _n("Stainless Steel Hex Bolts", 5, 30, "bolt", 1000),
                    _n("Wall Anchor Kit", 5, 20, "pack", 400),
                    _n("Heavy-Duty Door Hinges", 5, 30, "pack", 500),
                    _n("Nylon Cable Ties", 3, 15, "pack", 300),
                ),
            ),
            Leaf(
                "Packaging Materials",
                (
                    _n("Corrugated Shipping Box", 0.4, 2.5, "box", 300),
                    _n("Padded Bubble Mailer", 0.3, 1.5, "box", 40),
                    _n("Stretch Wrap Film", 8, 30, "film", 2500),
                    _n("Kraft Paper Tape", 2, 8, "pack", 250),
                ),
            ),
            Leaf(
                "Electrical Components",
                (
                    _n("LED Panel Light", 10, 60, "watts", 1800),
                    _n("Miniature Circuit Breaker", 3, 20, "amp", 120),
                    _n("Copper Building Wire 100 m", 15, 80, "wire", 4000),
                    _n("Waterproof Junction Box", 3, 20, "sml", 250),
                ),
            ),
        ),
    ),
    Department(
        name="Food & Beverages",
        shape="jar",
        palette=("Kraft Brown", "Forest Green", "Crème", "Black", "Red", "Gold"),
        adjectives=("Organic", "Single-Origin", "Artisan", "Small-Batch", "Premium", "Traditional", "Fresh"),
        materials=("organic ingredients", "sun-dried produce", "cold-pressed oil", "stone-ground flour"),
        features=(
            "no added sugar",
            "gluten free",
            "vegan",
            "resealable pack",
            "harvested this season",
            "gift tin",
        ),
        uses=(
            "Roasted in small batches for a smooth café crème at home.",
            "A pantry favourite for weeknight cooking and weekend feasts.",
            "Sourced directly from family farms and cooperatives.",
            "Store in a cool, dry place and enjoy within six months of opening.",
        ),
        attributes={
            "Shelf life": ("6 months", "12 months", "18 months", "24 months"),
            "Diet": ("Vegan", "Vegetarian", "Gluten free", "Halal", "Kosher"),
        },
        leaves=(
            Leaf(
                "Coffee & Tea",
                (
                    _n("Café Crème Coffee Beans", 10, 35, "grams+grind", 500),
                    _n("Espresso Roast", 10, 40, "grams", 500),
                    _n("Jasmine Green Tea", 6, 30, "grams", 250),
                    _n("Ceremonial Matcha", 10, 45, "grams", 100),
                    _n("Turkish Coffee", 6, 20, "grams", 250),
                ),
            ),
            Leaf(
                "Snacks",
                (
                    _n("Roasted Almonds", 5, 20, "grams", 500),
                    _n("Dried Mango Slices", 4, 15, "grams", 250),
                    _n("Jalapeño Tortilla Chips", 2, 8, "pack", 200),
                    _n("Crispy Seaweed Snacks", 3, 12, "pack", 60),
                ),
            ),
            Leaf(
                "Pantry",
                (
                    _n("Extra Virgin Olive Oil", 8, 35, "oil", 900),
                    _n("Aged Basmati Rice", 4, 20, "grams", 1000),
                    _n("Raw Wildflower Honey", 6, 30, "grams", 500),
                    _n("Açaí Berry Powder", 10, 35, "grams", 250),
                ),
            ),
            Leaf(
                "Confectionery",
                (
                    _n("Crème Brûlée Chocolate Bar", 3, 12, "pack", 100),
                    _n("Turkish Delight", 6, 25, "flavour", 500),
                    _n("Salted Caramel Fudge", 5, 18, "grams", 250),
                ),
            ),
            Leaf(
                "Sauces & Spices",
                (
                    _n("Chilli Crisp Oil", 5, 15, "heat", 300),
                    _n("Smoked Paprika", 3, 10, "grams", 100),
                    _n("Harissa Paste", 4, 12, "heat", 200),
                    _n("Garam Masala", 3, 12, "grams", 100),
                ),
            ),
        ),
    ),
    Department(
        name="Automotive",
        shape="car",
        palette=("Black", "Grey", "Beige", "Red", "Silver"),
        adjectives=("Universal", "Heavy-Duty", "Premium", "Compact", "All-Season", "Quick-Fit"),
        materials=("PU leather", "ABS plastic", "microfibre", "aluminium alloy", "natural rubber"),
        features=(
            "universal fit",
            "easy installation",
            "12 V and 24 V",
            "weatherproof",
            "2-year warranty",
            "E-mark approved",
        ),
        uses=(
            "Fits most cars, SUVs and vans without tools.",
            "Keeps the cabin tidy on the school run and long drives.",
            "Tested from -30 °C to +70 °C.",
            "Comes with a fitting guide and spare clips.",
        ),
        attributes={
            "Fitment": ("Universal", "Most cars and SUVs", "Vans and trucks"),
            "Voltage": ("12 V", "12 V / 24 V"),
        },
        leaves=(
            Leaf(
                "Car Electronics",
                (
                    _n("Dash Camera", 30, 150, "resolution", 150),
                    _n("Car Phone Charger", 8, 30, "watt", 60),
                    _n("Portable Tyre Inflator", 25, 80, "colour", 700),
                    _n("Lithium Jump Starter", 40, 140, "mah", 900),
                ),
            ),
            Leaf(
                "Interior Accessories",
                (
                    _n("Leather Seat Cover Set", 40, 200, "colour", 3500),
                    _n("Steering Wheel Cover", 8, 30, "colour", 300),
                    _n("All-Weather Floor Mats", 20, 80, "colour", 3000),
                    _n("Boot Organiser", 15, 45, "colour", 1200),
                ),
            ),
            Leaf(
                "Car Care",
                (
                    _n("Ceramic Coating Spray", 10, 40, "ml", 500),
                    _n("Microfibre Towel Set", 6, 25, "pack", 400),
                    _n("pH-Neutral Car Shampoo", 6, 20, "oil", 1000),
                    _n("Electric Pressure Washer", 60, 250, "colour", 7000),
                ),
            ),
            Leaf(
                "Parts & Tools",
                (
                    _n("Frameless Wiper Blades", 8, 30, "wiper", 300),
                    _n("LED Headlight Bulbs", 15, 60, "bulb", 200),
                    _n("Heavy-Duty Tow Rope", 10, 35, "rope", 1200),
                    _n("Torque Wrench", 25, 90, "colour", 1400),
                ),
            ),
        ),
    ),
)

DEPARTMENT_BY_NAME = {d.name: d for d in DEPARTMENTS}
