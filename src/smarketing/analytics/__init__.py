"""Analytics: attribution, funnels and reports computed from journeys and touchpoints."""
