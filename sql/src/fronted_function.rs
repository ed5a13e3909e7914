//! A function put in front of DataFusion's built-in one of the same name, per session.
//! Everything a planner asks (name, aliases, signature, types, coercion, ordering) is
//! the built-in's; a call first goes to the [`Front`], which may refuse it, answer it
//! itself, or let the built-in run. Used by `bounded_functions` (refuse huge values)
//! and `utc_date_trunc` (a faster path).

use std::fmt::Debug;
use std::hash::Hash;

use arrow::datatypes::{DataType, FieldRef};
use datafusion::error::Result;
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion::prelude::SessionContext;

/// What runs before the built-in function.
pub trait Front: Debug + PartialEq + Eq + Hash + Send + Sync + 'static {
    /// `Ok(Some(value))`: the call's answer; `Ok(None)`: the built-in's; `Err`: refused.
    fn before(&self, inner: &ScalarUDF, args: &[ColumnarValue]) -> Result<Option<ColumnarValue>>;
}

/// Replaces the session's function `name` (if it has one) with `front` before it.
pub fn put_in_front(ctx: &SessionContext, name: &str, front: impl Front) {
    if let Some(inner) = ctx.state().scalar_functions().get(name) {
        ctx.register_udf(ScalarUDF::new_from_impl(Fronted {
            inner: inner.as_ref().clone(),
            front,
        }));
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Fronted<F> {
    pub(crate) inner: ScalarUDF,
    pub(crate) front: F,
}

impl<F: Front> ScalarUDFImpl for Fronted<F> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn output_ordering(&self, input: &[ExprProperties]) -> Result<SortProperties> {
        self.inner.output_ordering(input)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match self.front.before(&self.inner, &args.args)? {
            Some(value) => Ok(value),
            None => self.inner.invoke_with_args(args),
        }
    }
}
