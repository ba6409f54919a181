import type { SilverTable } from '../silver-table.js'
import { clickstreamEvents } from './clickstream-events.js'
import { customers } from './customers.js'
import { orderItems } from './order-items.js'
import { orders } from './orders.js'
import { payments } from './payments.js'
import { products } from './products.js'
import { returns } from './returns.js'

/** The silver tables of the data contract, in an order that respects `dependsOn`. */
export const silverTables: readonly SilverTable[] = [
  customers,
  products,
  orders,
  orderItems,
  payments,
  returns,
  clickstreamEvents,
]
