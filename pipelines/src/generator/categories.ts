/** A product category: its price range in USD, catalog share, return rate and product nouns. */
export interface Category {
  readonly name: string
  /** Three letters, the prefix of its SKUs. */
  readonly code: string
  readonly minPrice: number
  readonly maxPrice: number
  /** Share of the catalog (relative). */
  readonly weight: number
  /** Probability that a delivered order with a line of this category is returned. */
  readonly returnRate: number
  readonly nouns: readonly string[]
}

export const categories: readonly Category[] = [
  {
    name: 'electronics',
    code: 'ELE',
    minPrice: 19,
    maxPrice: 1200,
    weight: 10,
    returnRate: 0.06,
    nouns: ['Headphones', 'Speaker', 'Soundbar', 'Camera', 'Smartwatch', 'Charger', 'Monitor', 'Drone', 'Earbuds'],
  },
  {
    name: 'computers',
    code: 'CMP',
    minPrice: 25,
    maxPrice: 2400,
    weight: 5,
    returnRate: 0.05,
    nouns: ['Laptop', 'Keyboard', 'Mouse', 'Router', 'SSD', 'Webcam', 'Docking Station', 'Tablet'],
  },
  {
    name: 'home',
    code: 'HOM',
    minPrice: 8,
    maxPrice: 400,
    weight: 10,
    returnRate: 0.04,
    nouns: ['Lamp', 'Rug', 'Curtains', 'Mirror', 'Vase', 'Throw', 'Pillow', 'Clock', 'Towel Set'],
  },
  {
    name: 'kitchen',
    code: 'KIT',
    minPrice: 6,
    maxPrice: 350,
    weight: 8,
    returnRate: 0.04,
    nouns: ['Knife Set', 'Pan', 'Blender', 'Kettle', 'Coffee Maker', 'Cutting Board', 'Mixing Bowls', 'Toaster'],
  },
  {
    name: 'furniture',
    code: 'FUR',
    minPrice: 45,
    maxPrice: 1800,
    weight: 5,
    returnRate: 0.05,
    nouns: ['Chair', 'Table', 'Desk', 'Sofa', 'Bookshelf', 'Bed Frame', 'Dresser', 'Stool'],
  },
  {
    name: 'fashion',
    code: 'FAS',
    minPrice: 8,
    maxPrice: 220,
    weight: 14,
    returnRate: 0.18,
    nouns: ['Shirt', 'Jacket', 'Jeans', 'Dress', 'Sweater', 'Scarf', 'Hat', 'Hoodie', 'Coat', 'Skirt'],
  },
  {
    name: 'shoes',
    code: 'SHO',
    minPrice: 25,
    maxPrice: 240,
    weight: 6,
    returnRate: 0.2,
    nouns: ['Sneakers', 'Boots', 'Sandals', 'Loafers', 'Running Shoes', 'Slippers'],
  },
  {
    name: 'beauty',
    code: 'BEA',
    minPrice: 4,
    maxPrice: 95,
    weight: 8,
    returnRate: 0.02,
    nouns: ['Moisturizer', 'Serum', 'Shampoo', 'Lipstick', 'Perfume', 'Face Mask', 'Sunscreen'],
  },
  {
    name: 'sports',
    code: 'SPO',
    minPrice: 8,
    maxPrice: 600,
    weight: 7,
    returnRate: 0.07,
    nouns: ['Yoga Mat', 'Dumbbells', 'Tent', 'Backpack', 'Bicycle Helmet', 'Water Bottle', 'Tennis Racket'],
  },
  {
    name: 'toys',
    code: 'TOY',
    minPrice: 5,
    maxPrice: 160,
    weight: 6,
    returnRate: 0.04,
    nouns: ['Puzzle', 'Building Set', 'Doll', 'Board Game', 'Plush Toy', 'Toy Car', 'Kite'],
  },
  {
    name: 'books',
    code: 'BOO',
    minPrice: 4,
    maxPrice: 60,
    weight: 7,
    returnRate: 0.02,
    nouns: ['Cookbook', 'Novel', 'Atlas', 'Guide', 'Notebook', 'Journal', 'Biography'],
  },
  {
    name: 'grocery',
    code: 'GRO',
    minPrice: 1.5,
    maxPrice: 45,
    weight: 5,
    returnRate: 0.005,
    nouns: ['Coffee', 'Tea', 'Olive Oil', 'Chocolate', 'Granola', 'Honey', 'Pasta', 'Spice Mix'],
  },
  {
    name: 'garden',
    code: 'GAR',
    minPrice: 6,
    maxPrice: 700,
    weight: 4,
    returnRate: 0.04,
    nouns: ['Planter', 'Hose', 'Shovel', 'Grill', 'Lawn Mower', 'Bird Feeder', 'Garden Bench'],
  },
  {
    name: 'pet',
    code: 'PET',
    minPrice: 3,
    maxPrice: 130,
    weight: 5,
    returnRate: 0.03,
    nouns: ['Dog Bed', 'Cat Tree', 'Leash', 'Pet Bowl', 'Chew Toy', 'Litter Box', 'Aquarium'],
  },
]
