//! # The chain rule on numbers: buying apples (chapter 5 warm-up)
//!
//! Stage 3 of the course opens with the book's computational graph before any
//! matrix: 2 apples at 100 each, 10% tax. Each node computes forward and, on
//! the way back, multiplies the gradient arriving from above by its own local
//! derivative. Run it with `cargo run -p ch5-backprop --example apple_shopping`.
//!
//! ```text
//!  apple ──┐
//!          (×)── apple_price ──┐
//!  apple_num ┘                 (×)── price
//!                        tax ──┘
//! ```

// ANCHOR: mul_layer
/// A multiplication node `z = x · y`. Backward: `∂z/∂x = y` and `∂z/∂y = x`,
/// so the gradient from above is multiplied by the *other* input, which the
/// node remembers from forward.
#[derive(Default)]
struct MulLayer {
    x: f64,
    y: f64,
}

impl MulLayer {
    fn forward(&mut self, x: f64, y: f64) -> f64 {
        self.x = x;
        self.y = y;
        x * y
    }

    /// `dout = ∂E/∂z` → `(∂E/∂x, ∂E/∂y)`.
    fn backward(&self, dout: f64) -> (f64, f64) {
        (dout * self.y, dout * self.x)
    }
}
// ANCHOR_END: mul_layer

// ANCHOR: add_layer
/// An addition node `z = x + y`. Backward: `∂z/∂x = ∂z/∂y = 1`, so the
/// gradient from above passes unchanged to both inputs.
struct AddLayer;

impl AddLayer {
    fn forward(&self, x: f64, y: f64) -> f64 {
        x + y
    }

    fn backward(&self, dout: f64) -> (f64, f64) {
        (dout, dout)
    }
}
// ANCHOR_END: add_layer

/// Prices and gradients of the one-fruit graph.
#[derive(Debug)]
struct Apples {
    price: f64,
    d_apple: f64,
    d_apple_num: f64,
    d_tax: f64,
}

// ANCHOR: apples
/// `price = apple · apple_num · tax`, forward then backward.
fn buy_apples(apple: f64, apple_num: f64, tax: f64) -> Apples {
    let mut mul_apple = MulLayer::default();
    let mut mul_tax = MulLayer::default();

    let apple_price = mul_apple.forward(apple, apple_num);
    let price = mul_tax.forward(apple_price, tax);

    let d_price = 1.0; // ∂price/∂price
    let (d_apple_price, d_tax) = mul_tax.backward(d_price);
    let (d_apple, d_apple_num) = mul_apple.backward(d_apple_price);
    Apples {
        price,
        d_apple,
        d_apple_num,
        d_tax,
    }
}
// ANCHOR_END: apples

/// Prices and gradients of the two-fruit graph.
#[derive(Debug)]
struct Fruit {
    price: f64,
    d_apple: f64,
    d_apple_num: f64,
    d_orange: f64,
    d_orange_num: f64,
    d_tax: f64,
}

// ANCHOR: apples_and_oranges
/// `price = (apple · apple_num + orange · orange_num) · tax`: the addition
/// node hands the same gradient to both branches.
fn buy_fruit(apple: f64, apple_num: f64, orange: f64, orange_num: f64, tax: f64) -> Fruit {
    let mut mul_apple = MulLayer::default();
    let mut mul_orange = MulLayer::default();
    let add_fruit = AddLayer;
    let mut mul_tax = MulLayer::default();

    let apple_price = mul_apple.forward(apple, apple_num);
    let orange_price = mul_orange.forward(orange, orange_num);
    let all_price = add_fruit.forward(apple_price, orange_price);
    let price = mul_tax.forward(all_price, tax);

    let (d_all_price, d_tax) = mul_tax.backward(1.0);
    let (d_apple_price, d_orange_price) = add_fruit.backward(d_all_price);
    let (d_orange, d_orange_num) = mul_orange.backward(d_orange_price);
    let (d_apple, d_apple_num) = mul_apple.backward(d_apple_price);
    Fruit {
        price,
        d_apple,
        d_apple_num,
        d_orange,
        d_orange_num,
        d_tax,
    }
}
// ANCHOR_END: apples_and_oranges

/// A number rounded to 10 decimals, without trailing zeros: `200 · 1.1` is
/// `220.00000000000003` in binary floating point, shown as `220`.
fn show(v: f64) -> String {
    let s = format!("{v:.10}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn main() {
    let a = buy_apples(100.0, 2.0, 1.1);
    println!("2 apples at 100, tax 1.1");
    println!("  forward:  price = {}", show(a.price));
    println!(
        "  backward: d apple = {}, d apple_num = {}, d tax = {}",
        show(a.d_apple),
        show(a.d_apple_num),
        show(a.d_tax)
    );
    println!("  (one more yen per apple costs 2.2 more; one more apple costs 110 more)");

    let f = buy_fruit(100.0, 2.0, 150.0, 3.0, 1.1);
    println!("2 apples at 100, 3 oranges at 150, tax 1.1");
    println!("  forward:  price = {}", show(f.price));
    println!(
        "  backward: d apple = {}, d apple_num = {}, d orange = {}, d orange_num = {}, d tax = {}",
        show(f.d_apple),
        show(f.d_apple_num),
        show(f.d_orange),
        show(f.d_orange_num),
        show(f.d_tax)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn the_books_apple_numbers() {
        let a = buy_apples(100.0, 2.0, 1.1);
        assert!(close(a.price, 220.0), "{a:?}");
        assert!(close(a.d_apple, 2.2), "{a:?}");
        assert!(close(a.d_apple_num, 110.0), "{a:?}");
        assert!(close(a.d_tax, 200.0), "{a:?}");
    }

    #[test]
    fn the_books_apple_and_orange_numbers() {
        let f = buy_fruit(100.0, 2.0, 150.0, 3.0, 1.1);
        assert!(close(f.price, 715.0), "{f:?}");
        assert!(close(f.d_apple, 2.2), "{f:?}");
        assert!(close(f.d_apple_num, 110.0), "{f:?}");
        assert!(close(f.d_orange, 3.3), "{f:?}");
        assert!(close(f.d_orange_num, 165.0), "{f:?}");
        assert!(close(f.d_tax, 650.0), "{f:?}");
    }

    #[test]
    fn gradients_match_a_finite_difference() {
        // The chain rule's answer, checked the stage 2 way.
        let h = 1e-4;
        let price = |apple: f64, num: f64, tax: f64| buy_apples(apple, num, tax).price;
        let a = buy_apples(100.0, 2.0, 1.1);
        let d_apple = (price(100.0 + h, 2.0, 1.1) - price(100.0 - h, 2.0, 1.1)) / (2.0 * h);
        let d_tax = (price(100.0, 2.0, 1.1 + h) - price(100.0, 2.0, 1.1 - h)) / (2.0 * h);
        assert!((a.d_apple - d_apple).abs() < 1e-6);
        assert!((a.d_tax - d_tax).abs() < 1e-6);
        assert_eq!(show(a.price), "220");
    }
}
